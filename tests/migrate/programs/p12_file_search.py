"""file_search over a vector store given through tool_resources; citations in the answer."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

report = client.files.create(file=("report.txt", b"Report for the trip: it is 22C in Paris today."), purpose="assistants")
store = client.vector_stores.create(name="trip", file_ids=[report.id])
assistant = client.beta.assistants.create(
    model=MODEL,
    instructions="Answer from the files.",
    tools=[{"type": "file_search"}],
    tool_resources={"file_search": {"vector_store_ids": [store.id]}},
)
thread = client.beta.threads.create(messages=[{"role": "user", "content": "What does the report say about Paris?"}])
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=32)
if run.status not in ("completed", "incomplete"):
    sys.exit(run.status)
message = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0]
reply = message.content[0].text.value
cited = [a.file_citation.file_id for a in message.content[0].text.annotations if a.type == "file_citation"]
if MODEL == "scripted" and (not reply.startswith("It is 22C in Paris.") or cited != [report.id]):
    sys.exit(f"{reply!r} {cited}")
print(reply, cited)
