import json

from openai import OpenAI

client = OpenAI()
assistant = client.beta.assistants.create(
    model="gpt-4o-mini",
    tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}],
)
thread = client.beta.threads.create()
client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Look it up.")
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
while run.status == "requires_action":
    outputs = []
    for tc in run.required_action.submit_tool_outputs.tool_calls:
        outputs.append({"tool_call_id": tc.id, "output": json.dumps({"name": tc.function.name})})
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(thread_id=thread.id, run_id=run.id, tool_outputs=outputs)
print(client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0].content[0].text.value)
