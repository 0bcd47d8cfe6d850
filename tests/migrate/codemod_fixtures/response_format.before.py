from openai import OpenAI

client = OpenAI()
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
extractor = client.beta.assistants.create(
    model="gpt-4o-mini",
    name="extractor",
    response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA, "strict": True}},
)
