"""Assistants v1 code that was never migrated: retrieval tool, file_ids on assistants and messages."""

from openai import OpenAI

client = OpenAI()

file = client.files.create(file=open("handbook.pdf", "rb"), purpose="assistants")

assistant = client.beta.assistants.create(  # expect: beta.assistants.create [retired_model, v1_file_ids]
    name="HR helper",
    instructions="Answer questions about the employee handbook.",
    model="gpt-4-1106-preview",
    tools=[{"type": "retrieval"}],
    file_ids=[file.id],
)

thread = client.beta.threads.create()  # expect: beta.threads.create
client.beta.threads.messages.create(  # expect: beta.threads.messages.create [v1_file_ids]
    thread_id=thread.id,
    role="user",
    content="How many vacation days do I get?",
    file_ids=[file.id],
)
run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)  # expect: beta.threads.runs.create
