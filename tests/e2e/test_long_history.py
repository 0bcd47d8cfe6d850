"""A long history is read from its tail: a conversation, a thread and a previous_response_id
chain of a few thousand items, seeded through the store, answered by a model with a 300-token
window (`scripted-300`: tokens are words) through the official SDK."""

from __future__ import annotations

import asyncio
import random

import openai
import pytest

from onward.engine import context
from onward.ids import new_id
from onward.providers.base import ModelRequest
from onward.providers.scripted import ScriptedProvider
from onward.store.conversations import ConversationStore
from onward.store.db import make_engine
from onward.store.responses import ResponseStore

WINDOW = 300
WORDS = "red green blue amber violet teal olive coral ivory slate".split()


def _items(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    raw = []
    for i in range(n):
        if i % 10 == 4:
            raw.append({"type": "function_call", "call_id": f"call_{seed}_{i}", "name": "lookup", "arguments": "{}"})
            raw.append({"type": "function_call_output", "call_id": f"call_{seed}_{i}", "output": " ".join(rng.choices(WORDS, k=8))})
        raw.append({"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}: " + " ".join(rng.choices(WORDS, k=rng.randint(4, 30)))})
    return context.normalize_input(raw)


async def _seed_conversation(url: str, items: list[dict]) -> str:
    engine = make_engine(url)
    try:
        store = ConversationStore(engine)
        conv_id = new_id("conv")
        await store.create(conv_id, {"seeded": "yes"}, [])
        for start in range(0, len(items), 500):
            assert await store.append(conv_id, items[start : start + 500])
        return conv_id
    finally:
        await engine.dispose()


async def _seed_chain(url: str, items: list[dict]) -> str:
    engine = make_engine(url)
    try:
        store = ResponseStore(engine)
        previous = None
        for start in range(0, len(items), 4):
            resp_id = new_id("resp")
            inp, out = items[start : start + 2], items[start + 2 : start + 4]
            body = {"id": resp_id, "object": "response", "created_at": 0, "status": "completed", "model": "scripted-300", "output": out,
                    "previous_response_id": previous, "store": True, "background": False, "conversation": None}
            await store.save_new(body, {}, inp, out)
            previous = resp_id
        assert previous is not None
        return previous
    finally:
        await engine.dispose()


def _expected_input_tokens(past: list[dict], question: str) -> int:
    """What reading every item and fitting it (context.fit_context, truncation=auto) sends."""
    provider = ScriptedProvider(context_window=WINDOW)
    new = context.normalize_input(question)
    request = context.fit_context(provider, ModelRequest(model="m", input=context.model_view(past + new)), "auto")
    return provider.count_tokens(request)


def test_long_conversation_is_answered_from_its_tail(server):
    items = _items(3000, seed=1)
    conv_id = asyncio.run(_seed_conversation(server.database_url, items))
    client = server.client()
    question = "What came last?"
    resp = client.responses.create(model="scripted-300", conversation=conv_id, input=question, truncation="auto")
    assert resp.status == "completed" and resp.output_text == "From the tail."
    assert resp.usage.input_tokens == _expected_input_tokens(items, question) < WINDOW
    counted = client.responses.input_tokens.count(model="scripted-300", conversation=conv_id, input="Once more?", truncation="auto")
    assert 0 < counted.input_tokens < WINDOW
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="scripted-300", conversation=conv_id, input="And now?")  # truncation defaults to disabled
    assert err.value.status_code == 400 and err.value.code == "context_length_exceeded"
    assert err.value.param == "input" and "truncation" in err.value.message
    # The 400 added nothing; the answered turn added its two items at the end.
    page = client.conversations.items.list(conv_id, limit=3, order="desc")
    assert [i.id for i in page.data][2] == items[-1]["id"] and page.has_more
    # An id the conversation holds far beyond the tail is still refused.
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="scripted-300", conversation=conv_id, truncation="auto",
                                input=[{"type": "message", "id": items[3]["id"], "role": "user", "content": "again"}])
    assert err.value.status_code == 400


def test_long_chain_is_answered_from_its_tail(server):
    items = _items(2000, seed=2)
    last = asyncio.run(_seed_chain(server.database_url, items))
    client = server.client()
    resp = client.responses.create(model="scripted-300", previous_response_id=last, input="Next?", truncation="auto")
    assert resp.usage.input_tokens == _expected_input_tokens(items, "Next?") < WINDOW
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="scripted-300", previous_response_id=last, input="Next?", truncation="disabled")
    assert err.value.code == "context_length_exceeded" and err.value.param == "input"
    with pytest.raises(openai.BadRequestError):  # an id the chain holds, far beyond the tail
        client.responses.create(model="scripted-300", previous_response_id=last, truncation="auto",
                                input=[{"type": "message", "id": items[0]["id"], "role": "user", "content": "dup"}])
    # input_items still pages by keyset over the new response's own input.
    listed = client.responses.input_items.list(resp.id)
    assert [i.content[0].text for i in listed.data] == ["Next?"]


def test_long_thread_runs_on_its_tail(server):
    items = _items(3000, seed=3)
    items.append(context.normalize_input([{"role": "user", "content": "Please answer the last message."}])[0])
    thread_id = asyncio.run(_seed_conversation(server.database_url, items))
    client = server.client()
    assistant = client.beta.assistants.create(model="scripted-300", instructions="Answer.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant.id)
    assert run.status == "completed", run.last_error
    assert 0 < run.usage.prompt_tokens < WINDOW
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant.id, truncation_strategy={"type": "last_messages", "last_messages": 3})
    assert run.status == "completed", run.last_error
    assert run.usage.prompt_tokens < 150
    latest = client.beta.threads.messages.list(thread_id, limit=1)
    assert latest.data[0].content[0].text.value == "From the tail."
