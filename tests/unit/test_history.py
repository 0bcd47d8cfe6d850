"""History read from the tail (engine/history.py) on SQLite and PostgreSQL: what a model request
keeps is exactly what reading every item kept, while only the tail is read."""

from __future__ import annotations

import random

import pytest

from onward.engine import context
from onward.engine.history import Tail, chain_tail, conversation_tail
from onward.errors import APIError
from onward.ids import new_id
from onward.providers.base import ModelRequest
from onward.providers.scripted import ScriptedProvider
from onward.store.conversations import ConversationStore
from onward.store.db import make_engine, migrate
from onward.store.responses import ResponseStore

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the module's engine lives on the session's loop

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def engine(request, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'h.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    eng = make_engine(url)
    await migrate(eng)
    yield eng
    await eng.dispose()


def _text(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(3, 25)))


def history(n: int, seed: int = 1) -> list[dict]:
    """`n` turns: messages, reasoning before a function_call and its output (kept together),
    a compaction item now and then."""
    rng = random.Random(seed)
    raw: list[dict] = []
    for i in range(n):
        raw.append({"role": "user", "content": _text(rng)})
        if i % 5 == 2:
            call = f"call_{i}"
            raw.append({"type": "reasoning", "id": f"rs_{i}", "summary": [{"type": "summary_text", "text": _text(rng)}]})
            raw.append({"type": "function_call", "call_id": call, "name": "lookup", "arguments": f'{{"q": "{_text(rng)}"}}'})
            raw.append({"type": "function_call_output", "call_id": call, "output": _text(rng)})
        if i % 37 == 20:
            raw.append({"type": "compaction", "encrypted_content": context.encode_compaction(_text(rng))})
        raw.append({"role": "assistant", "content": _text(rng)})
    return context.normalize_input(raw)


def fitted(provider, past, new: list[dict], truncation: str) -> list[dict]:
    """What fit_context keeps of `past` (a list, or a history.Tail with its `over` hint) + `new`."""
    over = None
    if isinstance(past, Tail):
        past, over = past.items, past.over
    request = ModelRequest(model="m", input=context.model_view(past + new), instructions="Be brief.")
    return context.fit_context(provider, request, truncation, over).input


async def new_conversation(engine, items: list[dict], batch: int = 97) -> str:
    store = ConversationStore(engine)
    conv_id = new_id("conv")
    await store.create(conv_id, {}, items[:batch])
    for start in range(batch, len(items), batch):
        assert await store.append(conv_id, items[start : start + batch])
    return conv_id


@pytest.mark.parametrize("window", [40, 150, 700, 3000, 10**6])
async def test_conversation_tail_keeps_what_reading_all_kept(engine, window):
    store = ConversationStore(engine)
    items = history(300)
    conv_id = await new_conversation(engine, items)
    provider = ScriptedProvider(context_window=window)
    full = await store.all_items(conv_id)
    assert full == items
    read = await conversation_tail(store, provider, conv_id)
    tail = read.items
    assert tail == full[len(full) - len(tail):]  # a suffix, oldest first
    new = context.normalize_input([{"role": "user", "content": "and now?"}])
    assert fitted(provider, read, new, "auto") == fitted(provider, tail, new, "auto") == fitted(provider, full, new, "auto")
    fits = provider.count_tokens(ModelRequest(model="m", input=context.model_view(full + new), instructions="Be brief.")) < window
    if fits:
        assert tail == full
        assert fitted(provider, tail, new, "disabled") == fitted(provider, full, new, "disabled")
    else:
        assert len(tail) < len(full) and read.over is not None and read.over >= window  # only the tail was read
        for past in (read, tail, full):
            with pytest.raises(APIError) as err:
                fitted(provider, past, new, "disabled")
            assert err.value.status == 400 and err.value.param == "input" and err.value.code == "context_length_exceeded"
    context.check_tool_outputs(tail, new)  # every call in the tail has its output there


async def test_kept_suffix_never_starts_with_an_orphan_output(engine):
    store = ConversationStore(engine)
    items = history(120, seed=3)
    conv_id = await new_conversation(engine, items)
    for window in range(30, 400, 7):
        provider = ScriptedProvider(context_window=window)
        tail = await conversation_tail(store, provider, conv_id)
        kept = fitted(provider, tail, [], "auto")
        assert kept == fitted(provider, tail.items, [], "auto")
        assert kept[0]["type"] != "function_call_output"
        calls = {i["call_id"] for i in kept if i.get("type") == "function_call"}
        assert all(i["call_id"] in calls for i in kept if i.get("type") == "function_call_output")
        assert kept == fitted(provider, items, [], "auto")


async def test_a_compaction_item_reads_as_the_summary(engine):
    store = ConversationStore(engine)
    items = context.normalize_input(
        [{"role": "user", "content": "x " * 500}, {"type": "compaction", "encrypted_content": context.encode_compaction("they said x a lot")}, {"role": "user", "content": "go on"}]
    )
    conv_id = await new_conversation(engine, items)
    provider = ScriptedProvider(context_window=100)
    tail = await conversation_tail(store, provider, conv_id)
    kept = fitted(provider, tail, [], "auto")
    assert kept == fitted(provider, items, [], "auto")
    assert kept[0]["role"] == "developer" and "they said x a lot" in kept[0]["content"]


async def test_stored_totals_follow_appends_and_deletes(engine):
    store = ConversationStore(engine)
    items = history(50, seed=5)
    conv_id = await new_conversation(engine, items, batch=13)
    page = await store.tail(conv_id, 10**9)
    assert page.items == items and not page.more
    # Deleting items leaves the totals high: the tail is then read in more pages, still whole.
    for item in items[-40:-5]:
        assert await store.delete_item(conv_id, item["id"])
    remaining = items[:-40] + items[-5:]
    provider = ScriptedProvider(context_window=120)
    tail = (await conversation_tail(store, provider, conv_id)).items
    assert tail == remaining[len(remaining) - len(tail):]
    assert fitted(provider, tail, [], "auto") == fitted(provider, remaining, [], "auto")


async def new_chain(engine, depth: int) -> tuple[str, list[dict]]:
    """A `previous_response_id` chain whose responses each answer the previous one's call."""
    store = ResponseStore(engine)
    rng = random.Random(depth)
    previous, everything = None, []
    for k in range(depth):
        inputs = [{"role": "user", "content": _text(rng)}]
        if k % 3 == 1:
            inputs.insert(0, {"type": "function_call_output", "call_id": f"call_{k - 1}", "output": _text(rng)})
        outputs = [{"role": "assistant", "content": _text(rng)}]
        if k % 3 == 0:
            outputs.append({"type": "function_call", "call_id": f"call_{k}", "name": "lookup", "arguments": "{}"})
        inp, out = context.normalize_input(inputs), context.normalize_input(outputs)
        resp_id = new_id("resp")
        body = {"id": resp_id, "object": "response", "created_at": 0, "status": "completed", "model": "m", "output": out, "previous_response_id": previous, "store": True, "background": False, "conversation": None}
        await store.save_new(body, {}, inp, out)
        everything += inp + out
        previous = resp_id
    assert previous is not None
    return previous, everything


@pytest.mark.parametrize("window", [40, 300, 2000, 10**6])
async def test_chain_tail_keeps_what_reading_all_kept(engine, window):
    store = ResponseStore(engine)
    last, everything = await new_chain(engine, 200)
    full = await store.chain_items(last)
    assert full == everything
    provider = ScriptedProvider(context_window=window)
    read = await chain_tail(store, provider, last)
    assert read is not None
    tail = read.items
    assert tail == full[len(full) - len(tail):]
    new = context.normalize_input([{"role": "user", "content": "next"}])
    if window > 10**5:
        assert tail == full
    else:
        assert len(tail) < len(full)
        with pytest.raises(APIError):
            fitted(provider, tail, new, "disabled")
    assert fitted(provider, read, new, "auto") == fitted(provider, full, new, "auto")
    assert await chain_tail(store, provider, "resp_missing") is None


async def test_chain_holds_finds_ids_beyond_the_tail(engine):
    store = ResponseStore(engine)
    last, everything = await new_chain(engine, 60)
    first_id, last_id = everything[0]["id"], everything[-1]["id"]
    assert await store.chain_holds(last, [first_id, last_id, "msg_nowhere"]) == {first_id, last_id}


async def test_legacy_rows_without_estimates_are_read_whole(engine):
    """Rows written before migration 0009 carry no estimate: they are all read (as before)."""
    import sqlalchemy as sa

    from onward.store.models import conversation_items, conversations

    store = ConversationStore(engine)
    items = history(40, seed=9)
    conv_id = await new_conversation(engine, items)
    async with engine.begin() as conn:
        await conn.execute(conversation_items.update().where(conversation_items.c.conversation_id == conv_id).values(tokens=None, total_tokens=None))
        await conn.execute(conversations.update().where(conversations.c.id == conv_id).values(total_tokens=0))
    page = await store.tail(conv_id, 50)
    assert page.items == items and not page.more
    provider = ScriptedProvider(context_window=60)
    assert fitted(provider, await conversation_tail(store, provider, conv_id), [], "auto") == fitted(provider, items, [], "auto")
    new = context.normalize_input([{"role": "user", "content": "more"}])
    assert await store.append(conv_id, new)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(conversation_items.c.total_tokens).where(conversation_items.c.conversation_id == conv_id).order_by(conversation_items.c.position))).scalars().all()
    assert rows[:-1] == [None] * len(items) and rows[-1] is not None


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_migration_0009_backfills_what_writes_store(kind, tmp_path):
    """Rows written before 0009 get the estimates and running sums the write path gives."""
    import contextlib

    import orjson
    import sqlalchemy as sa
    from alembic import command

    from onward.store.conversations import item_rows
    from onward.store.db import _alembic_config

    from ..conftest import new_pg_database

    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'm.db'}" if kind == "sqlite" else stack.enter_context(new_pg_database())
        sync = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        cfg = _alembic_config(url)
        items = history(30, seed=11)
        with sync.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0008")
            conn.execute(sa.text("INSERT INTO conversations (id, created_at, metadata, next_position, deleted) VALUES ('conv_old', 0, '{}', :n, false)"), {"n": len(items)})
            for k, item in enumerate(items):
                conn.execute(sa.text("INSERT INTO conversation_items (conversation_id, position, item_id, created_at, data) VALUES ('conv_old', :p, :i, 0, :d)"),
                             {"p": k, "i": item["id"], "d": orjson.dumps(item).decode()})
            conn.execute(sa.text("INSERT INTO responses (id, created_at, status, model, background, store, request, body, cancel_requested, updated_at) "
                                 "VALUES ('resp_old', 0, 'completed', 'm', false, true, '{}', '{}', false, 0)"))
            for k, item in enumerate(items[:4]):
                conn.execute(sa.text("INSERT INTO response_items (response_id, kind, position, item_id, data) VALUES ('resp_old', 'input', :p, :i, :d)"),
                             {"p": k, "i": item["id"], "d": orjson.dumps(item).decode()})
            command.upgrade(cfg, "head")
        with sync.connect() as conn:
            got = conn.execute(sa.text("SELECT tokens, total_tokens FROM conversation_items WHERE conversation_id = 'conv_old' ORDER BY position")).all()
            want = item_rows("conv_old", items, 0, 0, 0)
            assert [tuple(r) for r in got] == [(r["tokens"], r["total_tokens"]) for r in want]
            assert conn.execute(sa.text("SELECT total_tokens FROM conversations WHERE id = 'conv_old'")).scalar() == want[-1]["total_tokens"]
            assert conn.execute(sa.text("SELECT tokens FROM responses WHERE id = 'resp_old'")).scalar() == sum(r["tokens"] for r in want[:4])
        sync.dispose()


@pytest.mark.parametrize("window", [20, 40, 60, 90, 200, 450, 900])
async def test_fit_context_drops_the_fewest_items(window):
    """Whatever its size-based guess (here thrown off by items of very different words per
    character), fit_context keeps the longest suffix that fits: checked against every k."""
    from onward.engine.context import _drop

    rng = random.Random(window)
    raw = []
    for i in range(80):
        text = "x" * rng.randint(1, 400) if i % 7 == 0 else _text(rng)  # one word of many characters
        raw.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    provider = ScriptedProvider(context_window=window)
    request = ModelRequest(model="m", input=context.model_view(context.normalize_input(raw)), instructions="Be brief.")
    fewest = next(k for k in range(1, len(raw) + 1) if provider.count_tokens(_drop(request, k)) < window)
    if fewest == len(raw):  # not even the last item fits
        with pytest.raises(APIError):
            context.fit_context(provider, request, "auto")
    else:
        assert context.fit_context(provider, request, "auto").input == _drop(request, fewest).input
