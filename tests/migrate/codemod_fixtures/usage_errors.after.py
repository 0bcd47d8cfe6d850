from openai import OpenAI

client = OpenAI()
assistant = dict(model="gpt-4o-mini")


def cost(thread_id, question):
    run = client.responses.create(conversation=thread_id, input=[{"role": "user", "content": question}], **assistant)
    if run.status == "failed":
        raise RuntimeError(run.error.message)
    return run.usage.input_tokens * 0.15 + run.usage.output_tokens * 0.6
