"""The Assistants quickstart, as most teams first pasted it (math tutor)."""

from openai import OpenAI

client = OpenAI()

assistant = client.beta.assistants.create(  # expect: beta.assistants.create [retired_model, code_interpreter]
    name="Math Tutor",
    instructions="You are a personal math tutor. Write and run code to answer math questions.",
    tools=[{"type": "code_interpreter"}],
    model="gpt-4-turbo-preview",
)

thread = client.beta.threads.create()  # expect: beta.threads.create

message = client.beta.threads.messages.create(  # expect: beta.threads.messages.create
    thread_id=thread.id,
    role="user",
    content="I need to solve the equation `3x + 11 = 14`. Can you help me?",
)

run = client.beta.threads.runs.create_and_poll(  # expect: beta.threads.runs.create_and_poll [additional_instructions]
    thread_id=thread.id,
    assistant_id=assistant.id,
    instructions="Please address the user as Jane Doe. The user has a premium account.",
    additional_instructions="Keep answers under 100 words.",
)

if run.status == "completed":
    messages = client.beta.threads.messages.list(thread_id=thread.id)  # expect: beta.threads.messages.list
    print(messages)
else:
    print(run.status)
