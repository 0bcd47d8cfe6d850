"""Streaming without a handler: `with runs.stream(...) as stream: for event in stream:` reading
raw events by name (text deltas, then the finished run's usage)."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL, instructions="Be brief.")
thread = client.beta.threads.create(messages=[{"role": "user", "content": "Greet me."}])
pieces = []
usage = None
with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=24) as stream:
    for event in stream:
        if event.event == "thread.message.delta":
            pieces.append(event.data.delta.content[0].text.value)
        elif event.event in ("thread.run.completed", "thread.run.incomplete"):
            usage = event.data.usage
text = "".join(pieces)
if not text or usage is None or usage.completion_tokens <= 0:
    sys.exit(f"text {text!r} usage {usage}")
if MODEL == "scripted" and text != "Hello from the script.":
    sys.exit(f"text {text!r}")
print(text, usage.prompt_tokens, usage.completion_tokens)
