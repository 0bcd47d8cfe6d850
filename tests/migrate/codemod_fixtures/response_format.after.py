from openai import OpenAI

client = OpenAI()
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
extractor = dict(
    model="gpt-4o-mini",
    text={"format": {"type": "json_schema", "name": "person", "schema": SCHEMA, "strict": True}},
)
