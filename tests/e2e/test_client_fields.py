"""What real clients send: every SDK field, item references, namespace/custom/hosted tools,
driven through a live `onward serve` with the official SDK on SQLite and PostgreSQL."""

from __future__ import annotations

import openai
import pytest

MODELS = ["smollm2", "upstream"]  # the embedded model and a real Chat Completions upstream

CRM = {
    "type": "namespace",
    "name": "crm",
    "description": "Customer records.",
    "tools": [
        {
            "type": "function",
            "name": "lookup_customer",
            "description": "Find a customer by name.",
            "parameters": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": False},
        }
    ],
}
SHOUT = {"type": "custom", "name": "shout", "description": "Shout the given words."}
WEB = {"type": "web_search", "external_web_access": False}


def test_every_sdk_field_is_accepted(server):
    client = server.client()
    resp = client.responses.create(
        model="smollm2",
        input="Say hello.",
        max_output_tokens=8,
        prompt_cache_key="cache-1",
        prompt_cache_retention="24h",
        prompt_cache_options={"mode": "implicit"},
        service_tier="auto",
        user="user-1",
        safety_identifier="safe-1",
        access_programs={"cyber": "standard"},
        background_options={"completion_window": "soonest"},
        image={"context_compression": "auto"},
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content", "web_search_call.action.sources"],
        max_tool_calls=2,
        extra_body={"client_metadata": {"turn_id": "t-1"}},
    )
    assert resp.status in ("completed", "incomplete")
    assert resp.prompt_cache_key == "cache-1" and resp.user == "user-1" and resp.safety_identifier == "safe-1"
    assert resp.max_tool_calls == 2 and resp.service_tier == "default"


def test_names_that_exist_nowhere_are_rejected(server):
    client = server.client()
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="smollm2", input="hi", extra_body={"not_a_parameter": 1})
    assert err.value.code == "unknown_parameter" and err.value.param == "not_a_parameter"
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="smollm2", input="hi", tools=[{"type": "teleporter"}])  # type: ignore[list-item]
    assert err.value.param == "tools[0].type"


def test_item_reference_resolves_any_stored_item(server):
    client = server.client()
    first = client.responses.create(model="smollm2", input="Name one color.", max_output_tokens=8)
    answer = first.output[0]
    asked = client.responses.input_items.list(first.id).data[0]
    second = client.responses.create(
        model="smollm2",
        input=[
            {"type": "item_reference", "id": asked.id},
            {"type": "item_reference", "id": answer.id},
            {"role": "user", "content": "Name another one."},
        ],
        max_output_tokens=8,
    )
    assert second.status in ("completed", "incomplete")
    items = client.responses.input_items.list(second.id, order="asc").data
    assert [i.id for i in items[:2]] == [asked.id, answer.id]
    assert items[1].content[0].text == answer.content[0].text  # type: ignore[union-attr]
    assert items[0].content[0].text == "Name one color."  # type: ignore[union-attr]

    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="smollm2", input=[{"role": "user", "content": "hi"}, {"type": "item_reference", "id": "msg_nope"}])
    assert err.value.param == "input[1]" and "msg_nope" in err.value.message


def test_item_reference_to_a_conversation_item(server):
    client = server.client()
    conv = client.conversations.create(items=[{"type": "message", "role": "user", "content": "My name is Ada."}])
    held = client.conversations.items.list(conv.id).data[0]
    # From another conversation: the referenced item is copied in.
    other = client.conversations.create()
    resp = client.responses.create(
        model="smollm2", conversation=other.id, max_output_tokens=8,
        input=[{"type": "item_reference", "id": held.id}, {"role": "user", "content": "What is my name?"}],
    )
    assert resp.status in ("completed", "incomplete")
    ids = [i.id for i in client.conversations.items.list(other.id, order="asc").data]
    assert ids[0] == held.id and len(ids) == 3
    # Within its own conversation: already there, not added twice.
    resp = client.responses.create(
        model="smollm2", conversation=conv.id, max_output_tokens=8,
        input=[{"type": "item_reference", "id": held.id}, {"role": "user", "content": "Again?"}],
    )
    assert resp.status in ("completed", "incomplete")
    ids = [i.id for i in client.conversations.items.list(conv.id, order="asc").data]
    assert ids.count(held.id) == 1 and len(ids) == 3
    # conversations.items.create takes references too.
    added = client.conversations.items.create(other.id, items=[{"type": "item_reference", "id": resp.output[0].id}])
    assert added.data[0].id == resp.output[0].id


@pytest.mark.parametrize("model", MODELS)
def test_custom_tool_round_trip(server, model):
    client = server.client()
    resp = client.responses.create(
        model=model, input="Shout hello.", tools=[WEB, SHOUT], tool_choice={"type": "custom", "name": "shout"}, max_output_tokens=40,
    )
    call = resp.output[-1]
    assert call.type == "custom_tool_call" and call.name == "shout" and isinstance(call.input, str)
    assert [t.type for t in resp.tools] == ["web_search", "custom"]  # echoed, the hosted one not run
    follow = client.responses.create(
        model=model, previous_response_id=resp.id, tools=[SHOUT], max_output_tokens=16,
        input=[{"type": "custom_tool_call_output", "call_id": call.call_id, "output": "HELLO"}],
    )
    assert follow.status in ("completed", "incomplete"), follow.error
    # The same turn replayed in full (store=false, as Codex does) runs too.
    replay = client.responses.create(
        model=model, store=False, tools=[SHOUT], max_output_tokens=16,
        input=[
            {"role": "user", "content": "Shout hello."},
            {"type": "custom_tool_call", "call_id": call.call_id, "name": "shout", "input": call.input},
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "HELLO"},
        ],
    )
    assert replay.status in ("completed", "incomplete")


def test_custom_tool_streams_its_input(server):
    client = server.client()
    with client.responses.stream(model="smollm2", input="Shout hi.", tools=[SHOUT], tool_choice={"type": "custom", "name": "shout"}, max_output_tokens=40) as stream:
        events = list(stream)
        final = stream.get_final_response()
    done = [e for e in events if e.type == "response.custom_tool_call_input.done"]
    assert len(done) == 1 and done[0].input == final.output[-1].input  # type: ignore[union-attr]
    deltas = [e.delta for e in events if e.type == "response.custom_tool_call_input.delta"]
    assert "".join(deltas) == done[0].input and (len(deltas) > 1 or len(done[0].input) < 8)


def test_namespace_tool_call_carries_its_namespace(server):
    client = server.client()
    resp = client.responses.create(model="smollm2", input="Look up the customer named Ada.", tools=[WEB, CRM], tool_choice="required", max_output_tokens=40)
    call = resp.output[-1]
    assert call.type == "function_call" and call.name == "lookup_customer" and call.namespace == "crm"  # type: ignore[union-attr]
    follow = client.responses.create(
        model="smollm2", previous_response_id=resp.id, tools=[CRM], max_output_tokens=16,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"name": "Ada", "plan": "gold"}'}],
    )
    assert follow.status in ("completed", "incomplete")
    items = client.responses.input_items.list(follow.id).data
    assert items[0].type == "function_call_output"


def test_namespace_on_upstream(server):
    """A namespaced call made on a Chat Completions upstream (forced through the flat name the
    model sees) comes back with `namespace` and the plain name; history replays to it."""
    client = server.client()
    resp = client.responses.create(
        model="upstream", store=False, max_output_tokens=16, tools=[CRM],
        input=[
            {"role": "user", "content": "Look up Ada."},
            {"type": "function_call", "call_id": "call_1", "name": "lookup_customer", "namespace": "crm", "arguments": '{"name": "Ada"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": '{"name": "Ada", "plan": "gold"}'},
        ],
    )
    assert resp.status in ("completed", "incomplete")


def test_web_search_only_is_left_out(server):
    client = server.client()
    resp = client.responses.create(model="smollm2", input="Say hi.", tools=[WEB, {"type": "image_generation"}], max_output_tokens=8)
    assert resp.status in ("completed", "incomplete")
    assert all(item.type == "message" for item in resp.output)
    assert [t.type for t in resp.tools] == ["web_search", "image_generation"]


def test_forcing_a_hosted_tool_onward_does_not_run(server):
    client = server.client()
    resp = client.responses.create(model="smollm2", input="Say hi.", tools=[{"type": "web_search_preview"}], tool_choice={"type": "web_search_preview"}, max_output_tokens=8)
    assert resp.status in ("completed", "incomplete") and resp.tool_choice.type == "web_search_preview"  # type: ignore[union-attr]


def test_custom_and_namespaced_calls_round_trip_in_a_conversation(server):
    client = server.client()
    conv = client.conversations.create()
    first = client.responses.create(
        model="smollm2", conversation=conv.id, input="Shout hello.", tools=[SHOUT, CRM], tool_choice={"type": "custom", "name": "shout"}, max_output_tokens=40,
    )
    call = first.output[-1]
    assert call.type == "custom_tool_call"
    client.conversations.items.create(conv.id, items=[{"type": "custom_tool_call_output", "call_id": call.call_id, "output": "HELLO"}])
    second = client.responses.create(model="smollm2", conversation=conv.id, input="Now look up the customer Ada.", tools=[SHOUT, CRM], tool_choice="required", max_output_tokens=40)
    assert second.status in ("completed", "incomplete")
    items = client.conversations.items.list(conv.id, order="asc").data
    kinds = [i.type for i in items]
    assert kinds[:3] == ["message", "custom_tool_call", "custom_tool_call_output"]
    assert items[1].input == call.input  # type: ignore[union-attr]
    last = items[-1]
    if last.type == "function_call":  # tool_choice=required on the embedded model: one of the two tools
        assert last.namespace == "crm" and last.name == "lookup_customer"  # type: ignore[union-attr]
    else:
        assert last.type == "custom_tool_call"
