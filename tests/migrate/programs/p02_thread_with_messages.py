"""A thread created with its first message, then run and read (the quickstart style)."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL, instructions="Be brief.")
thread = client.beta.threads.create(messages=[{"role": "user", "content": "Name a colour."}])
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=16)
assert run.status in ("completed", "incomplete"), run.status
reply = client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value
if not reply:
    sys.exit("empty reply")
print(reply)
