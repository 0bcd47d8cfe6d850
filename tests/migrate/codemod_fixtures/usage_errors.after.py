from openai import APIStatusError, OpenAI

client = OpenAI()
assistant = dict(model="gpt-4o-mini")


def cost(thread_id, question):
    try:
        run = client.responses.create(conversation=thread_id, input=[{"role": "user", "content": question}], **assistant)
    except APIStatusError as error:
        raise RuntimeError(error.message) from error
    if run.status == "failed":
        raise RuntimeError(run.error.message)
    return run.usage.input_tokens * 0.15 + run.usage.output_tokens * 0.6
