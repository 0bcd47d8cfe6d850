"""The Responses API driven by the official SDK against a live server, on SQLite and
PostgreSQL, on the scripted model (exact flows) and the real embedded model."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from pydantic import BaseModel

WEATHER = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False},
        "strict": True,
    }
]


def test_create_text_scripted(server):
    client = server.client()
    resp = client.responses.create(model="scripted", input="hi", metadata={"k": "v"})
    assert resp.status == "completed"
    assert resp.output_text == "Hello from the script."
    assert resp.id.startswith("resp_") and resp.output[0].id.startswith("msg_")
    assert resp.metadata == {"k": "v"}
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens > 0
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    again = client.responses.retrieve(resp.id)
    assert again.output_text == resp.output_text and again.status == "completed"


@pytest.mark.parametrize("model", ["smollm2", "upstream"])
def test_create_text_real_model(server, model):
    client = server.client()
    resp = client.responses.create(model=model, input="Say hello in one short sentence.", max_output_tokens=24, temperature=0)
    assert resp.status in ("completed", "incomplete")
    assert resp.output_text.strip()
    assert resp.usage.input_tokens > 5 and resp.usage.output_tokens > 0
    assert resp.model == model


def test_stream_event_order_and_ids(server):
    client = server.client()
    with client.responses.stream(model="scripted", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert set(types[4:-4]) == {"response.output_text.delta"}
    seqs = [e.sequence_number for e in events]
    assert seqs == list(range(len(events)))
    item_ids = {e.item_id for e in events if hasattr(e, "item_id")}
    assert item_ids == {final.output[0].id}
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == final.output_text


def test_sse_framing_one_chunk_per_event(server):
    """Each event arrives as `event: …\\ndata: …\\n\\n` and the stream ends with [DONE]."""
    with httpx.stream("POST", f"{server.url}/responses", json={"model": "scripted", "input": "hi", "stream": True}, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    blocks = [b for b in body.split("\n\n") if b]
    assert blocks[-1] == "data: [DONE]"
    for block in blocks[:-1]:
        lines = block.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: {")
        assert f'"type":"{lines[0][7:]}"' in lines[1]
    assert '"logprobs":[]' in body


def test_stream_real_model(server):
    client = server.client()
    with client.responses.stream(model="smollm2", input="Count to three.", max_output_tokens=16) as stream:
        events = list(stream)
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    final = events[-1].response
    assert events[-1].type in ("response.completed", "response.incomplete")
    assert deltas and "".join(deltas) == final.output_text


class Person(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize("model", ["smollm2", "upstream"])
def test_parse_pydantic_real_model(server, model):
    client = server.client()
    parsed = client.responses.parse(
        model=model, input="Invent a person: give a name and an age.", text_format=Person, max_output_tokens=60, temperature=0
    )
    person = parsed.output_parsed
    assert isinstance(person, Person) and person.name


def test_function_calling_loop_scripted(server):
    client = server.client()
    first = client.responses.create(model="scripted", input="what's the weather in Paris?", tools=WEATHER)
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id.startswith("call_")
    assert call.id.startswith("fc_") and call.arguments == '{"city":"Paris"}'
    second = client.responses.create(
        model="scripted",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "22C and sunny"}],
        tools=WEATHER,
    )
    assert second.output_text == "It is 22C in Paris."
    assert second.previous_response_id == first.id


def test_parallel_calls_streamed(server):
    client = server.client()
    with client.responses.stream(model="scripted", input="weather in both cities", tools=WEATHER) as stream:
        events = list(stream)
        final = stream.get_final_response()
    calls = [o for o in final.output if o.type == "function_call"]
    assert [c.arguments for c in calls] == ['{"city":"Paris"}', '{"city":"Oslo"}']
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [d.arguments for d in done] == [c.arguments for c in calls]
    assert {e.item_id for e in events if e.type == "response.function_call_arguments.delta"} == {c.id for c in calls}


def test_function_calling_loop_real_model(server):
    """The embedded model, forced to call, produces a call whose arguments match the schema;
    the loop then completes with a text answer."""
    client = server.client()
    first = client.responses.create(model="smollm2", input="What is the weather in Paris?", tools=WEATHER, tool_choice="required", max_output_tokens=64)
    calls = [o for o in first.output if o.type == "function_call"]
    assert calls and calls[0].name == "get_weather"
    import json

    assert isinstance(json.loads(calls[0].arguments)["city"], str)
    second = client.responses.create(
        model="smollm2",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": c.call_id, "output": "22C, sunny"} for c in calls],
        max_output_tokens=40,
    )
    assert second.status in ("completed", "incomplete") and second.output_text.strip()


def test_missing_tool_output_is_400(server):
    client = server.client()
    first = client.responses.create(model="scripted", input="weather?", tools=WEATHER)
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="scripted", previous_response_id=first.id, input="and tomorrow?")
    assert "No tool output found for function call" in err.value.message


def test_chain_several_turns(server):
    client = server.client()
    r1 = client.responses.create(model="scripted", input="turn one", instructions="be brief")
    r2 = client.responses.create(model="scripted", input="turn two", previous_response_id=r1.id)
    r3 = client.responses.create(model="scripted", input="turn three", previous_response_id=r2.id)
    assert r3.instructions is None  # instructions are not inherited along a chain
    items = client.responses.input_items.list(r3.id)
    assert [i.content[0].text for i in items.data] == ["turn three"]


def test_chain_real_model_remembers(server):
    client = server.client()
    r1 = client.responses.create(model="smollm2", input="My name is Zorblax. Reply with OK.", max_output_tokens=8, temperature=0)
    r2 = client.responses.create(model="smollm2", input="What is my name?", previous_response_id=r1.id, max_output_tokens=16, temperature=0)
    assert r2.status in ("completed", "incomplete")
    assert r2.usage.input_tokens > r1.usage.input_tokens  # the history was sent


def test_input_items_paging(server):
    client = server.client()
    resp = client.responses.create(
        model="scripted", input=[{"role": "user", "content": f"m{i}"} for i in range(7)]
    )
    page = client.responses.input_items.list(resp.id, limit=3, order="asc")
    assert [i.content[0].text for i in page.data] == ["m0", "m1", "m2"] and page.has_more
    page2 = client.responses.input_items.list(resp.id, limit=3, order="asc", after=page.data[-1].id)
    assert [i.content[0].text for i in page2.data] == ["m3", "m4", "m5"]
    everything = [i.content[0].text for i in client.responses.input_items.list(resp.id, limit=2, order="asc")]
    assert everything == [f"m{i}" for i in range(7)]  # the SDK's auto-pagination
    desc = client.responses.input_items.list(resp.id, limit=2)
    assert [i.content[0].text for i in desc.data] == ["m6", "m5"]


def test_max_output_tokens_incomplete(server):
    client = server.client()
    resp = client.responses.create(model="scripted", input="hi", max_output_tokens=2)
    assert resp.status == "incomplete"
    assert resp.incomplete_details.reason == "max_output_tokens"
    real = client.responses.create(model="smollm2", input="Write a long story about a dragon.", max_output_tokens=5)
    assert real.status == "incomplete" and real.incomplete_details.reason == "max_output_tokens"
    assert real.usage.output_tokens <= 5


def test_background_poll(server):
    client = server.client()
    resp = client.responses.create(model="scripted", input="hi", background=True)
    assert resp.status == "queued" and resp.background
    for _ in range(100):
        resp = client.responses.retrieve(resp.id)
        if resp.status not in ("queued", "in_progress"):
            break
        time.sleep(0.05)
    assert resp.status == "completed" and resp.output_text == "Hello from the script."


def test_background_cancel(server):
    client = server.client()
    resp = client.responses.create(model="scripted", input="say it slowly", background=True)
    time.sleep(0.5)
    cancelled = client.responses.cancel(resp.id)
    assert cancelled.status == "cancelled"
    again = client.responses.cancel(resp.id)  # cancelling twice returns the object as is
    assert again.status == "cancelled"
    assert client.responses.retrieve(resp.id).status == "cancelled"


def test_cancel_needs_background(server):
    client = server.client()
    resp = client.responses.create(model="scripted", input="hi")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(resp.id)


def test_background_stream_resume(server):
    client = server.client()
    stream = client.responses.create(model="scripted", input="say it slowly", background=True, stream=True)
    seen = []
    for event in stream:
        seen.append(event)
        if event.type == "response.output_text.delta" and len([e for e in seen if e.type == "response.output_text.delta"]) == 3:
            break
    stream.close()  # the client drops; the response keeps running
    cut = seen[-1].sequence_number
    resumed = list(client.responses.retrieve(seen[0].response.id, stream=True, starting_after=cut))
    assert resumed[0].sequence_number == cut + 1
    assert resumed[-1].type == "response.completed"
    seqs = [e.sequence_number for e in seen] + [e.sequence_number for e in resumed]
    assert seqs == list(range(len(seqs)))
    text = "".join(e.delta for e in seen + resumed if e.type == "response.output_text.delta")
    assert text == resumed[-1].response.output_text
    assert seen[0].type == "response.created" and seen[1].type == "response.queued"


def test_delete(server):
    client = server.client()
    resp = client.responses.create(model="scripted", input="hi")
    client.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(resp.id)


def test_compaction_round_trip(server):
    client = server.client()
    r1 = client.responses.create(model="smollm2", input="My favourite colour is teal.", max_output_tokens=12)
    compacted = client.responses.compact(model="smollm2", previous_response_id=r1.id)
    assert compacted.object == "response.compaction"
    kinds = [o.type for o in compacted.output]
    assert kinds[-1] == "compaction" and kinds[:-1] == ["message"]
    window = [o.model_dump(exclude_none=True) for o in compacted.output]
    follow = client.responses.create(model="smollm2", input=window + [{"role": "user", "content": "What is my favourite colour?"}], max_output_tokens=16)
    assert follow.status in ("completed", "incomplete")
    r = httpx.post(f"{server.url}/responses/compact", json={"input": "x"})  # model is required
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"


def test_truncation(server):
    client = server.client()
    big = "word " * 9000  # over the embedded model's 8192-token window
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="smollm2", input=big)
    assert err.value.code == "context_length_exceeded"
    items = [{"role": "user", "content": f"old message {i}: " + "old " * 300} for i in range(6)] + [{"role": "user", "content": "Say hi."}]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="smollm2-1k", input=items, max_output_tokens=8)
    resp = client.responses.create(model="smollm2-1k", input=items, truncation="auto", max_output_tokens=8)
    assert resp.status in ("completed", "incomplete")
    assert 300 < resp.usage.input_tokens < 1024  # the oldest items were dropped, the rest kept


@pytest.mark.parametrize(
    "body, param, code",
    [
        ({"model": "scripted", "input": "hi", "bogus": 1}, "bogus", "unknown_parameter"),
        ({"model": "scripted", "input": "hi", "temperature": 9}, "temperature", "invalid_value"),
        ({"model": "scripted", "input": [{"role": "robot", "content": "x"}]}, "input[0].role", "invalid_value"),
        ({"model": "scripted", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name", "missing_required_parameter"),
        ({"model": "scripted", "input": "hi", "tool_choice": {"type": "function", "name": "x"}}, "tool_choice.name", "invalid_value"),
        ({"model": "scripted", "input": "hi", "include": ["nope"]}, "include[0]", "invalid_value"),
        ({"model": "scripted", "input": "hi", "previous_response_id": "resp_missing"}, "previous_response_id", "previous_response_not_found"),
        ({"model": "scripted", "input": "hi", "background": True, "store": False}, "background", "invalid_value"),
        ({"model": "scripted", "input": "hi", "text": {"format": {"type": "json_schema"}}}, "text.format.schema", "missing_required_parameter"),
        ({"model": "scripted", "input": "hi", "metadata": {str(i): "v" for i in range(17)}}, "metadata", "invalid_value"),
        ({"model": "scripted"}, "input", "missing_required_parameter"),
    ],
)
def test_client_errors(server, body, param, code):
    r = httpx.post(f"{server.url}/responses", json=body, timeout=30)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and err["code"] == code and err["message"] and err["type"] == "invalid_request_error"


def test_malformed_and_oversized_bodies(server):
    r = httpx.post(f"{server.url}/responses", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = httpx.post(f"{server.url}/responses", content=b"[1,2]", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = httpx.get(f"{server.url}/responses/resp_nope")
    assert r.status_code == 404 and "resp_nope" in r.json()["error"]["message"]
    r = httpx.get(f"{server.url}/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"


def test_upstream_failure_is_failed_response(server):
    client = server.client()
    with pytest.raises(openai.InternalServerError) as err:  # no output: an HTTP error the SDK may retry
        client.responses.create(model="scripted", input="upstream down")
    assert err.value.status_code == 502 and err.value.code == "upstream_error" and "upstream said 503" in err.value.message
    with client.responses.stream(model="scripted", input="upstream down") as stream:
        events = list(stream)
    assert events[-1].type == "response.failed" and "[upstream_error]" in events[-1].response.error.message


def test_models_list(server):
    client = server.client()
    ids = {m.id for m in client.models.list()}
    assert {"smollm2", "scripted", "upstream"} <= ids
    assert client.models.retrieve("smollm2").id == "smollm2"


@pytest.mark.asyncio
async def test_concurrent_writers(server):
    """Many clients at once on one database: every response lands, none is lost."""
    import asyncio

    client = server.async_client()
    results = await asyncio.gather(*[client.responses.create(model="scripted", input=f"hi {i}") for i in range(24)])
    assert all(r.status == "completed" for r in results)
    fetched = await asyncio.gather(*[client.responses.retrieve(r.id) for r in results])
    assert {f.id for f in fetched} == {r.id for r in results}


def test_metrics(server):
    server.client().responses.create(model="scripted", input="hi")
    text = httpx.get(f"{server.url.rsplit('/v1', 1)[0]}/metrics").text
    assert 'onward_http_requests_total{method="POST",route="/v1/responses",status="200"}' in text
    assert "onward_http_request_duration_seconds_bucket" in text
    assert "onward_background_responses_running" in text
