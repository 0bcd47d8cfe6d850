from openai import OpenAI

client = OpenAI()
assistant = dict(model="gpt-4o-mini")


def stream_answer(question):
    thread = client.conversations.create()
    with client.responses.stream(conversation=thread.id, input=[{"role": "user", "content": question}], **assistant) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                yield event.delta
            elif event.type == "response.failed":
                raise RuntimeError(event.response.error.message)
