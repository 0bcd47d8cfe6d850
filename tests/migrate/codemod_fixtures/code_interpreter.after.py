from openai import OpenAI

client = OpenAI()
data = client.files.create(file=open("data.csv", "rb"), purpose="assistants")
analyst = dict(
    model="gpt-4o",
    tools=[{"type": "code_interpreter", "container": {"type": "auto", "file_ids": [data.id]}}, {"type": "file_search", "vector_store_ids": ["vs_123"]}],
)
