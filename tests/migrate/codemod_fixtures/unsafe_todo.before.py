from openai import OpenAI

client = OpenAI()
ASSISTANT_ID = "asst_abc123"


def ask(thread_id):
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=ASSISTANT_ID, truncation_strategy={"type": "last_messages", "last_messages": 5})
    steps = client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=run.id)
    return steps
