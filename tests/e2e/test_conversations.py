"""Conversations API and `conversation` on responses, through the official SDK."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest


def test_conversation_crud_and_items(server):
    client = server.client()
    conv = client.conversations.create(items=[{"role": "user", "content": "first"}], metadata={"team": "a"})
    assert conv.id.startswith("conv_") and conv.metadata == {"team": "a"}
    assert client.conversations.retrieve(conv.id).id == conv.id
    added = client.conversations.items.create(conv.id, items=[{"role": "user", "content": f"n{i}"} for i in range(5)])
    assert len(added.data) == 5
    page = client.conversations.items.list(conv.id, limit=2, order="asc")
    assert [i.content[0].text for i in page.data] == ["first", "n0"] and page.has_more
    page2 = client.conversations.items.list(conv.id, limit=2, order="asc", after=page.data[-1].id)
    assert [i.content[0].text for i in page2.data] == ["n1", "n2"]
    desc = client.conversations.items.list(conv.id, limit=1)
    assert desc.data[0].content[0].text == "n4"
    one = client.conversations.items.retrieve(added.data[0].id, conversation_id=conv.id)
    assert one.content[0].text == "n0"
    client.conversations.items.delete(added.data[0].id, conversation_id=conv.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(added.data[0].id, conversation_id=conv.id)
    updated = client.conversations.update(conv.id, metadata={"team": "b"})
    assert updated.metadata == {"team": "b"}
    assert client.conversations.delete(conv.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conv.id)


def test_responses_continue_a_conversation(server):
    client = server.client()
    conv = client.conversations.create()
    r1 = client.responses.create(model="scripted", input="hello", conversation=conv.id)
    r2 = client.responses.create(model="scripted", input="again", conversation={"id": conv.id})
    assert r1.conversation.id == conv.id and r2.output_text
    items = list(client.conversations.items.list(conv.id, order="asc"))
    assert [(i.type, i.role) for i in items] == [("message", "user"), ("message", "assistant")] * 2
    assert items[1].id == r1.output[0].id  # the response's own output item, same id
    assert r2.usage.input_tokens > r1.usage.input_tokens  # the second saw the first


def test_conversation_real_model(server):
    client = server.client()
    conv = client.conversations.create(items=[{"role": "user", "content": "My name is Ada."}, {"role": "assistant", "content": "Hello Ada."}])
    resp = client.responses.create(model="smollm2", input="What is my name?", conversation=conv.id, max_output_tokens=16)
    assert resp.status in ("completed", "incomplete")
    assert len(list(client.conversations.items.list(conv.id))) == 4


def test_conversation_with_previous_response_is_400(server):
    client = server.client()
    conv = client.conversations.create()
    r = client.responses.create(model="scripted", input="hi")
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="scripted", input="x", conversation=conv.id, previous_response_id=r.id)
    assert err.value.param == "previous_response_id"


def test_conversation_locked(server):
    async def main():
        client = server.async_client()
        conv = await client.conversations.create()
        slow = asyncio.create_task(client.responses.create(model="scripted", input="say it slowly", conversation=conv.id))
        await asyncio.sleep(0.5)
        with pytest.raises(openai.BadRequestError) as err:
            await client.responses.create(model="scripted", input="hi", conversation=conv.id)
        assert err.value.code == "conversation_locked"
        first = await slow
        assert first.status == "completed"
        after = await client.responses.create(model="scripted", input="hi", conversation=conv.id)  # lock released
        assert after.status == "completed"

    asyncio.run(main())


def test_conversation_errors(server):
    r = httpx.post(f"{server.url}/conversations", json={"items": [{"role": "user", "content": "x"}] * 21})
    assert r.status_code == 400 and r.json()["error"]["param"] == "items"
    r = httpx.post(f"{server.url}/conversations", json={"bogus": 1})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_parameter"
    r = httpx.post(f"{server.url}/conversations", json={"items": [{"role": "robot", "content": "x"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "items[0].role"
    r = httpx.get(f"{server.url}/conversations/conv_missing")
    assert r.status_code == 404
    r = httpx.post(f"{server.url}/responses", json={"model": "scripted", "input": "x", "conversation": "conv_missing"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "conversation"
