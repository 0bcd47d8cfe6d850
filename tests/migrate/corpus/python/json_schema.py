"""Structured output on runs: response_format with a json_schema wrapper, parsed by hand."""

import json

from openai import OpenAI

client = OpenAI()

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "date": {"type": "string"}, "participants": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "date", "participants"],
    "additionalProperties": False,
}


def extract_event(text: str, assistant_id: str) -> dict:
    run = client.beta.threads.create_and_run_poll(  # expect: beta.threads.create_and_run_poll
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": text}]},
        response_format={"type": "json_schema", "json_schema": {"name": "calendar_event", "schema": SCHEMA, "strict": True}},
        model="gpt-4o-2024-08-06",
    )
    msgs = client.beta.threads.messages.list(thread_id=run.thread_id, limit=1)  # expect: beta.threads.messages.list
    return json.loads(msgs.data[0].content[0].text.value)
