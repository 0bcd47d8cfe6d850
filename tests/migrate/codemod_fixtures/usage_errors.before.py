from openai import OpenAI

client = OpenAI()
assistant = client.beta.assistants.create(model="gpt-4o-mini")


def cost(thread_id, question):
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant.id, additional_messages=[{"role": "user", "content": question}])
    if run.status == "failed":
        raise RuntimeError(run.last_error.message)
    return run.usage.prompt_tokens * 0.15 + run.usage.completion_tokens * 0.6
