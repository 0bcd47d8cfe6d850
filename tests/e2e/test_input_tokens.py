"""`POST /v1/responses/input_tokens` through the SDK (`client.responses.input_tokens.count`),
on SQLite and PostgreSQL: the count is what the model would be sent, by its own tokenizer."""

from __future__ import annotations

import openai
import pytest

WEATHER = [{"type": "function", "name": "get_weather", "description": "Weather for a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def test_count_equals_usage_of_the_real_model(server):
    client = server.client()
    counted = client.responses.input_tokens.count(model="smollm2", input="Name one colour.", instructions="Answer in one word.")
    assert counted.object == "response.input_tokens" and counted.input_tokens > 0
    made = client.responses.create(model="smollm2", input="Name one colour.", instructions="Answer in one word.", max_output_tokens=4)
    assert counted.input_tokens == made.usage.input_tokens
    # history through previous_response_id counts too, exactly as the next turn is billed
    follow = client.responses.input_tokens.count(model="smollm2", input="And another?", previous_response_id=made.id)
    assert follow.input_tokens > counted.input_tokens
    again = client.responses.create(model="smollm2", input="And another?", previous_response_id=made.id, max_output_tokens=4)
    assert follow.input_tokens == again.usage.input_tokens


def test_tools_instructions_and_conversations_count(server):
    client = server.client()
    plain = client.responses.input_tokens.count(model="smollm2", input="What is the weather in Paris?").input_tokens
    with_tools = client.responses.input_tokens.count(model="smollm2", input="What is the weather in Paris?", tools=WEATHER).input_tokens
    assert with_tools > plain
    conv = client.conversations.create(items=[{"type": "message", "role": "user", "content": "My name is Ada."}])
    in_conv = client.responses.input_tokens.count(model="smollm2", input="What is the weather in Paris?", conversation=conv.id).input_tokens
    assert in_conv > plain
    # counting stores nothing and leaves the conversation free
    assert len(client.conversations.items.list(conv.id).data) == 1
    client.responses.create(model="scripted", input="hi", conversation=conv.id)


def test_count_errors(server):
    client = server.client()
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.input_tokens.count(model="smollm2", input="hi", extra_body={"store": True})
    assert err.value.body["code"] == "unknown_parameter" and err.value.body["param"] == "store"
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.input_tokens.count(model="nope", input="hi")
    assert err.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.input_tokens.count(model="smollm2", input="hi", previous_response_id="resp_missing")
    assert err.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        client.responses.input_tokens.count(model="smollm2", input="hi", conversation="conv_missing")
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.input_tokens.count(model="smollm2")
    assert err.value.body["param"] == "input"
