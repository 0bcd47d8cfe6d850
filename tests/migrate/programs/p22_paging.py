"""A long thread read back oldest first, page by page, with `order="asc"` and the `after`
cursor (the last id of each page)."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL, instructions="Be brief.")
thread = client.beta.threads.create()
questions = ["First question?", "Second question?", "Third question?"]
for question in questions:
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=question)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=12)
    if run.status not in ("completed", "incomplete"):
        sys.exit(f"run {run.status}")

transcript = []
after = None
pages = 0
while True:
    if after is None:
        page = client.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=2)
    else:
        page = client.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=2, after=after)
    pages += 1
    for message in page.data:
        transcript.append((message.role, message.content[0].text.value))
    if not page.has_more:
        break
    after = page.data[-1].id
if [role for role, _ in transcript] != ["user", "assistant"] * 3 or [t for r, t in transcript if r == "user"] != questions:
    sys.exit(f"transcript {transcript}")
if pages != 3:
    sys.exit(f"pages {pages}")
print("ok", pages)
