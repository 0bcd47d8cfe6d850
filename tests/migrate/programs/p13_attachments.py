"""A file attached to a message for file_search (the thread's own vector store)."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

notes = client.files.create(file=("notes.txt", b"Report for the trip: it is 22C in Paris today."), purpose="assistants")
assistant = client.beta.assistants.create(model=MODEL, tools=[{"type": "file_search"}])
thread = client.beta.threads.create(
    messages=[{"role": "user", "content": "What does it say about Paris?", "attachments": [{"file_id": notes.id, "tools": [{"type": "file_search"}]}]}]
)
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=32)
if run.status not in ("completed", "incomplete"):
    sys.exit(run.status)
reply = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0].content[0].text.value
if MODEL == "scripted" and not reply.startswith("It is 22C in Paris."):
    sys.exit(reply)
print(reply)
