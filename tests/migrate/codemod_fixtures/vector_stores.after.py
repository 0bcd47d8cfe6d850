from openai import OpenAI

client = OpenAI()
store = client.vector_stores.create(name="docs")  # keep this comment
client.vector_stores.file_batches.upload_and_poll(vector_store_id=store.id, files=[open("a.txt", "rb")])
