"""Structured output from a pydantic model: the schema made by the SDK's helper, the reply
validated back into the model."""

import os
import sys

from openai import OpenAI
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import BaseModel

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")


class Person(BaseModel):
    name: str
    age: int


assistant = client.beta.assistants.create(
    model=MODEL,
    instructions="Extract the person as JSON.",
    response_format=type_to_response_format_param(Person),
)
thread = client.beta.threads.create(messages=[{"role": "user", "content": "json please: Ada is 36 years old."}])
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=48)
if run.status not in ("completed", "incomplete"):
    sys.exit(run.status)
raw = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0].content[0].text.value
person = Person.model_validate_json(raw)
if MODEL == "scripted" and person != Person(name="Ada", age=36):
    sys.exit(f"wrong person {person}")
print(person)
