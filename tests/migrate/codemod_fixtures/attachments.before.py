from openai import OpenAI

client = OpenAI()
assistant = client.beta.assistants.create(model="gpt-4o-mini", tools=[{"type": "file_search"}])
upload = client.files.create(file=open("report.pdf", "rb"), purpose="assistants")
thread = client.beta.threads.create(
    messages=[{"role": "user", "content": "Summarise the report.", "attachments": [{"file_id": upload.id, "tools": [{"type": "file_search"}]}]}]
)
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
print(client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0].content[0].text.value)
