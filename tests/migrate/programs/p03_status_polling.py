"""runs.create, then a hand-written status-polling loop with runs.retrieve."""

import os
import sys
import time

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL, instructions="Reply briefly.")
thread = client.beta.threads.create()
client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Tell me a fact about the sea.")
run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=24)
deadline = time.time() + 120
while run.status in ("queued", "in_progress"):
    if time.time() > deadline:
        sys.exit("timed out")
    time.sleep(0.2)
    run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
if run.status not in ("completed", "incomplete"):
    sys.exit(f"run {run.status}")
text = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0].content[0].text.value
print(text)
if not text:
    sys.exit("empty")
