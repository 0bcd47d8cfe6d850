from openai import OpenAI

client = OpenAI()
assistant = dict(model="gpt-4o-mini", tools=[{"type": "file_search", "vector_store_ids": []}])
upload = client.files.create(file=open("report.pdf", "rb"), purpose="assistants")
thread_store = client.vector_stores.create(file_ids=[upload.id])
thread = client.conversations.create()
run = client.responses.create(conversation=thread.id, input=[{"role": "user", "content": "Summarise the report."}], **{**assistant, "tools": [{**tool, "vector_store_ids": [*tool["vector_store_ids"], thread_store.id]} if tool["type"] == "file_search" else tool for tool in assistant["tools"]]})
print(client.conversations.items.list(conversation_id=thread.id, limit=1).data[0].content[0].text)
