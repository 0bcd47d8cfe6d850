import json

from openai import OpenAI

client = OpenAI()
assistant = dict(
    model="gpt-4o-mini",
    tools=[{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}, "strict": False}],
)
thread = client.conversations.create()
run = client.responses.create(conversation=thread.id, input=[{"role": "user", "content": "Look it up."}], **assistant)
while any(item.type == "function_call" for item in run.output):
    outputs = []
    for tc in [item for item in run.output if item.type == "function_call"]:
        outputs.append({"type": "function_call_output", "call_id": tc.call_id, "output": json.dumps({"name": tc.name})})
    run = client.responses.create(conversation=thread.id, input=outputs, **assistant)
print(client.conversations.items.list(conversation_id=thread.id, limit=1).data[0].content[0].text)
