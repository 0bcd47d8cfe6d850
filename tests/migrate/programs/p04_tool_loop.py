"""Function calling: poll to requires_action, answer with submit_tool_outputs_and_poll."""

import json
import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")


def get_weather(city="Paris", **_):
    return f"22C in {city}"


TOOLS = {"get_weather": get_weather}
assistant = client.beta.assistants.create(
    model=MODEL,
    instructions="Use get_weather for weather questions.",
    tools=[
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ],
)
thread = client.beta.threads.create()
client.beta.threads.messages.create(thread_id=thread.id, role="user", content="What is the weather in Paris?")
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=32)
calls = 0
while run.status == "requires_action" and calls < 4:
    outputs = []
    for call in run.required_action.submit_tool_outputs.tool_calls:
        calls += 1
        args = json.loads(call.function.arguments or "{}")
        fn = TOOLS.get(call.function.name, get_weather)
        outputs.append({"tool_call_id": call.id, "output": fn(**args)})
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(thread_id=thread.id, run_id=run.id, tool_outputs=outputs)
if run.status not in ("completed", "incomplete"):
    sys.exit(f"run {run.status}")
if MODEL == "scripted":
    reply = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0].content[0].text.value
    if calls != 1 or reply != "It is 22C in Paris.":
        sys.exit(f"calls={calls} reply={reply!r}")
print("ok", calls)
