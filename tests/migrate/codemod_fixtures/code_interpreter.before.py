from openai import OpenAI

client = OpenAI()
data = client.files.create(file=open("data.csv", "rb"), purpose="assistants")
analyst = client.beta.assistants.create(
    model="gpt-4o",
    tools=[{"type": "code_interpreter"}, {"type": "file_search"}],
    tool_resources={"code_interpreter": {"file_ids": [data.id]}, "file_search": {"vector_store_ids": ["vs_123"]}},
)
