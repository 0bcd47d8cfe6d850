"""Financial-statements analyst: file_search over a vector store, citations rewritten as [n]."""

from openai import OpenAI

client = OpenAI()

assistant = client.beta.assistants.create(  # expect: beta.assistants.create
    name="Financial Analyst Assistant",
    instructions="You are an expert financial analyst. Use your knowledge base to answer questions about audited financial statements.",
    model="gpt-4o",
    tools=[{"type": "file_search"}],
)

vector_store = client.beta.vector_stores.create(name="Financial Statements")  # expect: beta.vector_stores.create

file_paths = ["edgar/goog-10k.pdf", "edgar/brka-10k.txt"]
file_streams = [open(path, "rb") for path in file_paths]
file_batch = client.beta.vector_stores.file_batches.upload_and_poll(  # expect: beta.vector_stores.file_batches.upload_and_poll
    vector_store_id=vector_store.id, files=file_streams
)
print(file_batch.status, file_batch.file_counts)

assistant = client.beta.assistants.update(  # expect: beta.assistants.update
    assistant_id=assistant.id,
    tool_resources={"file_search": {"vector_store_ids": [vector_store.id]}},
)

message_file = client.files.create(file=open("edgar/aapl-10k.pdf", "rb"), purpose="assistants")
thread = client.beta.threads.create(  # expect: beta.threads.create
    messages=[
        {
            "role": "user",
            "content": "How many shares of AAPL were outstanding at the end of October 2023?",
            "attachments": [{"file_id": message_file.id, "tools": [{"type": "file_search"}]}],
        }
    ]
)

run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)  # expect: beta.threads.runs.create_and_poll
messages = list(client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id))  # expect: beta.threads.messages.list

message_content = messages[0].content[0].text
annotations = message_content.annotations
citations = []
for index, annotation in enumerate(annotations):
    message_content.value = message_content.value.replace(annotation.text, f"[{index}]")
    if file_citation := getattr(annotation, "file_citation", None):
        cited_file = client.files.retrieve(file_citation.file_id)
        citations.append(f"[{index}] {cited_file.filename}")

print(message_content.value)
print("\n".join(citations))
