"""Function calling: answer requires_action with submit_tool_outputs, the classic weather bot."""

import json

from openai import OpenAI

client = OpenAI()


def get_current_temperature(location: str, unit: str = "Celsius") -> str:
    return json.dumps({"location": location, "temperature": 22, "unit": unit})


def get_rain_probability(location: str) -> str:
    return json.dumps({"location": location, "probability": 0.06})


TOOLS = {"get_current_temperature": get_current_temperature, "get_rain_probability": get_rain_probability}

assistant = client.beta.assistants.create(  # expect: beta.assistants.create
    instructions="You are a weather bot. Use the provided functions to answer questions.",
    model="gpt-4o",
    tools=[
        {
            "type": "function",
            "function": {
                "name": "get_current_temperature",
                "description": "Get the current temperature for a specific location",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["Celsius", "Fahrenheit"]}},
                    "required": ["location", "unit"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "get_rain_probability",
                "description": "Get the probability of rain for a specific location",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
            },
        },
    ],
)

thread = client.beta.threads.create()  # expect: beta.threads.create
client.beta.threads.messages.create(thread_id=thread.id, role="user", content="What's the weather in San Francisco today and the likelihood it'll rain?")  # expect: beta.threads.messages.create

run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)  # expect: beta.threads.runs.create_and_poll

while run.status == "requires_action":
    outputs = []
    for call in run.required_action.submit_tool_outputs.tool_calls:
        args = json.loads(call.function.arguments)
        outputs.append({"tool_call_id": call.id, "output": TOOLS[call.function.name](**args)})
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(  # expect: beta.threads.runs.submit_tool_outputs_and_poll
        thread_id=thread.id, run_id=run.id, tool_outputs=outputs
    )

if run.status == "completed":
    for msg in client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id):  # expect: beta.threads.messages.list
        print(msg.content[0].text.value)
