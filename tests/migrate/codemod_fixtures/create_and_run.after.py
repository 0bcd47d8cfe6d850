from openai import OpenAI
from pydantic import BaseModel

client = OpenAI()


class Event(BaseModel):
    name: str
    date: str


extractor = dict(model="gpt-4o-mini", text_format=Event)


def extract(text):
    run = client.responses.parse(conversation=client.conversations.create().id, input=[{"role": "user", "content": text}], **extractor, max_output_tokens=200)
    reply = client.conversations.items.list(conversation_id=run.conversation.id, limit=1).data[0].content[0].text
    return Event.model_validate_json(reply)
