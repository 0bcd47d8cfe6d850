"""An assistant with code_interpreter and a data file given by id."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

data = client.files.create(file=("data.csv", b"x,y\n1,2\n3,4\n"), purpose="assistants")
assistant = client.beta.assistants.create(
    model=MODEL,
    instructions="You analyse data files.",
    tools=[{"type": "code_interpreter"}],
    tool_resources={"code_interpreter": {"file_ids": [data.id]}},
)
thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hello."}])
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=16)
if run.status not in ("completed", "incomplete"):
    sys.exit(f"run {run.status}: {run.last_error}")
print(client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0].content[0].text.value)
