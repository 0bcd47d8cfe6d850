"""Create, use and delete: assistants and threads cleaned up at the end."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL, instructions="Be brief.")
thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hello?"}], metadata={"job": "cleanup"})
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=16)
if run.status not in ("completed", "incomplete"):
    sys.exit(run.status)
gone = client.beta.threads.delete(thread.id)
if not gone.deleted:
    sys.exit("thread not deleted")
client.beta.assistants.delete(assistant.id)
print("ok")
