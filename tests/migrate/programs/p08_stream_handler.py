"""Streaming with an AssistantEventHandler subclass that collects text deltas."""

import os
import sys

from openai import AssistantEventHandler, OpenAI
from typing_extensions import override

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")


class Collector(AssistantEventHandler):
    def __init__(self):
        super().__init__()
        self.parts = []
        self.final = None

    @override
    def on_text_delta(self, delta, snapshot):
        self.parts.append(delta.value)

    @override
    def on_text_done(self, text):
        self.final = text.value


assistant = client.beta.assistants.create(model=MODEL, instructions="Be brief.")
thread = client.beta.threads.create(messages=[{"role": "user", "content": "Greet me."}])
handler = Collector()
with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler, max_completion_tokens=24) as stream:
    stream.until_done()
streamed = "".join(handler.parts)
if not streamed or streamed != handler.final:
    sys.exit(f"streamed {streamed!r} final {handler.final!r}")
print(streamed)
