"""One-shot questions with create_and_run_poll (a new thread per question), the answer read
from the run's thread, failures read from the run's status and last_error."""

import os
import sys

from openai import OpenAI

client = OpenAI(max_retries=4)
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL, instructions="Answer in one short sentence.")


def one_shot(question):
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": question}]},
        max_completion_tokens=16,
    )
    if run.status == "failed":
        raise RuntimeError(f"run failed: {run.last_error.code}: {run.last_error.message}")
    messages = client.beta.threads.messages.list(thread_id=run.thread_id, order="desc", limit=1)
    return messages.data[0].content[0].text.value, run.usage.total_tokens


answers = [one_shot(q) for q in ("What is the capital of France?", "What is two plus two?")]
if not all(text for text, _ in answers) or not all(tokens > 0 for _, tokens in answers):
    sys.exit(f"answers {answers}")
if MODEL == "scripted" and [text for text, _ in answers] != ["Hello from the script."] * 2:
    sys.exit(f"answers {answers}")
print(answers)
