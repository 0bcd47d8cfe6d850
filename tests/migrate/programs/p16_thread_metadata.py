"""Threads as records: metadata set at creation, updated, read back; a run with tool_choice."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL, instructions="Be brief.", temperature=0.2)
thread = client.beta.threads.create(metadata={"customer": "c-42"})
client.beta.threads.update(thread.id, metadata={"customer": "c-42", "stage": "open"})
if client.beta.threads.retrieve(thread.id).metadata != {"customer": "c-42", "stage": "open"}:
    sys.exit("metadata not kept")
client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Hello there.")
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, tool_choice="none", max_completion_tokens=16)
if run.status not in ("completed", "incomplete"):
    sys.exit(run.status)
print("ok")
