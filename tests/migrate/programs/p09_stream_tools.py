"""Streaming where tool calls are answered inside the event handler (the docs' pattern)."""

import json
import os
import sys

from openai import AssistantEventHandler, OpenAI
from typing_extensions import override

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")
TEXT = []


class EventHandler(AssistantEventHandler):
    @override
    def on_event(self, event):
        if event.event == "thread.run.requires_action":
            outputs = []
            for tool in event.data.required_action.submit_tool_outputs.tool_calls:
                city = json.loads(tool.function.arguments or "{}").get("city", "?")
                outputs.append({"tool_call_id": tool.id, "output": f"22C in {city}"})
            with client.beta.threads.runs.submit_tool_outputs_stream(
                thread_id=self.current_run.thread_id, run_id=self.current_run.id, tool_outputs=outputs, event_handler=EventHandler()
            ) as stream:
                stream.until_done()

    @override
    def on_text_delta(self, delta, snapshot):
        TEXT.append(delta.value)


assistant = client.beta.assistants.create(
    model=MODEL,
    tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
)
thread = client.beta.threads.create(messages=[{"role": "user", "content": "What's the weather in Paris?"}])
with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=EventHandler(), max_completion_tokens=32) as stream:
    stream.until_done()
if MODEL == "scripted" and "".join(TEXT) != "It is 22C in Paris.":
    sys.exit(f"text {TEXT}")
print("".join(TEXT))
