"""Create an assistant, a thread, a message, run it with create_and_poll, read the reply."""

import os
import sys

from openai import OpenAI

client = OpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY come from the environment
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL, name="greeter", instructions="Answer in one short sentence.")
thread = client.beta.threads.create()
client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Say hello to Ada.")
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=24)
if run.status not in ("completed", "incomplete"):
    sys.exit(f"run ended {run.status}")
messages = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1)
reply = messages.data[0].content[0].text.value
if messages.data[0].role != "assistant" or not reply.strip():
    sys.exit(f"no reply: {messages.data[0]}")
if MODEL == "scripted" and reply != "Hello from the script.":
    sys.exit(f"unexpected reply {reply!r}")
print(reply)
