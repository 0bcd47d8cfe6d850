"""store.sqlite_writer: a stored response written in one hop is the same rows as through
SQLAlchemy, readable through the store; in-memory databases keep the SQLAlchemy path."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy.engine import make_url

from onward.store.db import make_engine, migrate
from onward.store.responses import ResponseStore
from onward.store.sqlite_writer import file_path


def _body(rid: str) -> dict:
    return {
        "id": rid, "object": "response", "created_at": 1700000000, "status": "completed", "model": "m", "background": False, "store": True,
        "previous_response_id": None, "conversation": None,
        "output": [{"id": f"msg_o_{rid}", "type": "message", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "hé\u2028", "annotations": []}]}],
    }


def test_one_hop_rows_equal_sqlalchemy_rows(tmp_path):
    async def main():
        engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
        await migrate(engine)
        fast, slow = ResponseStore(engine), ResponseStore(engine)
        assert fast._writer is not None
        slow._writer = None  # the SQLAlchemy path
        for store, rid in ((fast, "resp_a"), (slow, "resp_b")):
            body = _body(rid)
            inputs = [{"id": f"msg_i_{rid}", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
            await store.save_new(body, {"model": "m"}, inputs, body["output"])
        got = await fast.get("resp_a")
        listed, _ = await fast.list_input_items("resp_a", limit=10, order="asc", after=None, before=None)
        fast._writer.close()
        await engine.dispose()
        return got, listed

    got, listed = asyncio.run(main())
    assert got["output"][0]["content"][0]["text"] == "hé\u2028"
    assert [i["id"] for i in listed] == ["msg_i_resp_a"]
    con = sqlite3.connect(tmp_path / "w.db")
    rows = {r[0]: r[1:] for r in con.execute("SELECT id, created_at, status, model, background, store, previous_response_id, conversation_id, owner, lease_until, cancel_requested, tokens FROM responses")}
    assert rows["resp_a"] == rows["resp_b"]
    items = con.execute("SELECT response_id, kind, position, item_id, tokens, typeof(tokens) FROM response_items ORDER BY response_id, kind").fetchall()
    assert [i[1:3] + i[4:] for i in items if i[0] == "resp_a"] == [i[1:3] + i[4:] for i in items if i[0] == "resp_b"]


def test_a_failed_write_leaves_nothing(tmp_path):
    async def main():
        engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
        await migrate(engine)
        store = ResponseStore(engine)
        body = _body("resp_x")
        await store.save_new(body, {}, [], body["output"])
        again = _body("resp_y")
        again["output"] = body["output"] + body["output"]
        try:
            await store.save_new(_body("resp_x"), {}, [], [])  # the same id again: the primary key refuses it
        except sqlite3.IntegrityError:
            pass
        else:
            raise AssertionError("a duplicate response id was written")
        await store.save_new(again, {}, [], again["output"])  # the writer is usable after a rollback
        stored = await store.get("resp_y")
        store._writer.close()
        await engine.dispose()
        return stored

    assert len(asyncio.run(main())["output"]) == 2


def test_only_plain_files_take_the_writer():
    assert file_path(make_url("sqlite+aiosqlite:////tmp/x.db")) == "/tmp/x.db"
    assert file_path(make_url("sqlite+aiosqlite:///:memory:")) is None
    assert file_path(make_url("sqlite+aiosqlite://")) is None
    assert file_path(make_url("sqlite+aiosqlite:///file:x.db?mode=memory&uri=true")) is None
