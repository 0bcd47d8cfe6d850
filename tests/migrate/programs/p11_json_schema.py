"""Structured extraction with response_format json_schema on the assistant."""

import json
import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}

assistant = client.beta.assistants.create(
    model=MODEL,
    instructions="Extract the person as JSON.",
    response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA, "strict": True}},
)
thread = client.beta.threads.create(messages=[{"role": "user", "content": "json please: Ada is 36 years old."}])
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=48)
if run.status not in ("completed", "incomplete"):
    sys.exit(run.status)
raw = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0].content[0].text.value
person = json.loads(raw)
if set(person) != {"name", "age"} or not isinstance(person["age"], int):
    sys.exit(f"not a person: {raw}")
if MODEL == "scripted" and person != {"name": "Ada", "age": 36}:
    sys.exit(f"wrong person {person}")
print(person)
