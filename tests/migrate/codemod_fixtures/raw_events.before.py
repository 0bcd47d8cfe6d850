from openai import OpenAI

client = OpenAI()
assistant = client.beta.assistants.create(model="gpt-4o-mini")


def stream_answer(question):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        for event in stream:
            if event.event == "thread.message.delta":
                yield event.data.delta.content[0].text.value
            elif event.event == "thread.run.failed":
                raise RuntimeError(event.data.last_error.message)
