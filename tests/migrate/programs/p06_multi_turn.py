"""Two turns on one thread; the thread keeps the history."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")


def ask(thread_id, assistant_id, text):
    client.beta.threads.messages.create(thread_id=thread_id, role="user", content=text)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id, max_completion_tokens=16)
    if run.status not in ("completed", "incomplete"):
        raise RuntimeError(run.status)
    return client.beta.threads.messages.list(thread_id=thread_id, order="desc", limit=1).data[0].content[0].text.value


assistant = client.beta.assistants.create(model=MODEL, instructions="Be brief.")
thread = client.beta.threads.create()
first = ask(thread.id, assistant.id, "My name is Ada.")
second = ask(thread.id, assistant.id, "What is my name?")
history = client.beta.threads.messages.list(thread_id=thread.id, order="asc")
texts = [m.content[0].text.value for m in history.data]
if texts[0] != "My name is Ada." or texts[2] != "What is my name?" or len(texts) != 4:
    sys.exit(f"history {texts}")
print(first, "/", second)
