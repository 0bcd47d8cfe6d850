"""Data analyst: CSV in through code_interpreter, chart out as an image file."""

from openai import OpenAI

client = OpenAI()


def analyse(csv_path: str) -> list[str]:
    data = client.files.create(file=open(csv_path, "rb"), purpose="assistants")
    analyst = client.beta.assistants.create(  # expect: beta.assistants.create [code_interpreter, per_tenant_assistant]
        name="Data analyst",
        model="gpt-4o",
        instructions="Analyse the data and draw a chart with matplotlib.",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [data.id]}},
    )
    thread = client.beta.threads.create(  # expect: beta.threads.create
        messages=[{"role": "user", "content": "Plot monthly revenue and summarise the trend."}]
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=analyst.id)  # expect: beta.threads.runs.create_and_poll
    saved = []
    for message in client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id):  # expect: beta.threads.messages.list
        for part in message.content:
            if part.type == "image_file":
                content = client.files.content(part.image_file.file_id)
                path = f"{part.image_file.file_id}.png"
                content.write_to_file(path)
                saved.append(path)
    client.beta.assistants.delete(analyst.id)  # expect: beta.assistants.delete
    return saved
