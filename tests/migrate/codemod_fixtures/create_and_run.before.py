from openai import OpenAI
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import BaseModel

client = OpenAI()


class Event(BaseModel):
    name: str
    date: str


extractor = client.beta.assistants.create(model="gpt-4o-mini", response_format=type_to_response_format_param(Event))


def extract(text):
    run = client.beta.threads.create_and_run_poll(assistant_id=extractor.id, thread={"messages": [{"role": "user", "content": text}]}, max_completion_tokens=200)
    reply = client.beta.threads.messages.list(thread_id=run.thread_id, limit=1).data[0].content[0].text.value
    return Event.model_validate_json(reply)
