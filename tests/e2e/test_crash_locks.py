"""Nothing stays locked after a crash, and a resumed stream always sees the end.

Each test runs its own `onward serve` and kills it with SIGKILL (no cleanup at all), on SQLite
and on PostgreSQL."""

from __future__ import annotations

import time

import openai
import pytest

from tests.conftest import SCRIPT, Server

TOML = 'default = "scripted"\n' + SCRIPT


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'onward.db'}"
    return request.getfixturevalue("pg_database")


def _until_usable(client, conv_id: str, timeout: float):
    """Create a response on the conversation until it is no longer locked (bounded wait)."""
    deadline = time.time() + timeout
    while True:
        try:
            return client.responses.create(model="scripted", input="hi", conversation=conv_id)
        except openai.BadRequestError as exc:
            assert exc.code == "conversation_locked", exc
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def test_kill_mid_background_stream_then_resume_and_reuse(tmp_path, db):
    srv = Server(tmp_path, db, TOML).start()
    client = srv.client()
    conv = client.conversations.create()
    stream = client.responses.create(model="scripted", input="say it slowly", conversation=conv.id, background=True, stream=True)
    seen = []
    for event in stream:
        seen.append(event)
        if sum(e.type == "response.output_text.delta" for e in seen) == 5:
            break
    srv.kill()  # SIGKILL mid-stream
    response_id = seen[0].response.id
    last_seen = seen[-1].sequence_number

    srv2 = Server(tmp_path, db, TOML).start()
    try:
        client = srv2.client()
        # the resumed stream ends with the response's final event, numbered after all we saw
        resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=last_seen))
        assert resumed, "a resumed stream must not be empty"
        assert resumed[-1].type == "response.failed"
        assert resumed[-1].sequence_number > last_seen
        assert all(e.sequence_number > last_seen for e in resumed)
        assert "stopped before it finished" in resumed[-1].response.error.message
        # every event a client saw before the kill is stored: a replay from the start has them all
        replay = list(client.responses.retrieve(response_id, stream=True, starting_after=0))
        assert [e.sequence_number for e in replay][: len(seen) - 1] == [e.sequence_number for e in seen[1:]]
        failed = client.responses.retrieve(response_id)
        assert failed.status == "failed"
        # what the worker produced is kept, marked incomplete
        seen_text = "".join(e.delta for e in seen if e.type == "response.output_text.delta")
        assert failed.output and failed.output[0].status == "incomplete"
        assert failed.output[0].content[0].text.startswith(seen_text)
        # the conversation is free again (recovery released its lock)
        again = client.responses.create(model="scripted", input="hi", conversation=conv.id)
        assert again.status == "completed"
        # the failed response left nothing in the conversation; the new one did
        texts = [i.content[0].text for i in client.conversations.items.list(conv.id, order="asc").data]
        assert texts == ["hi", "Hello from the script."]
    finally:
        srv2.stop()


def test_kill_mid_foreground_stream_lock_lapses_with_the_lease(tmp_path, db):
    lease = {"ONWARD_LEASE_SECONDS": "2"}
    srv = Server(tmp_path, db, TOML, env=lease).start()
    client = srv.client()
    conv = client.conversations.create()
    stream = client.responses.create(model="scripted", input="say it slowly", conversation=conv.id, stream=True)
    deltas = 0
    for event in stream:
        if event.type == "response.output_text.delta":
            deltas += 1
            if deltas == 3:
                break
    srv.kill()

    srv2 = Server(tmp_path, db, TOML, env=lease).start()
    try:
        # held by a dead process: lapses after ONWARD_LEASE_SECONDS (not a fixed 600 s)
        done = _until_usable(srv2.client(), conv.id, timeout=60)
        assert done.status == "completed"
    finally:
        srv2.stop()


def test_a_running_holder_keeps_its_conversation_lock(tmp_path, db):
    """The lease is renewed while the holder runs, however short ONWARD_LEASE_SECONDS is; the
    lock is released the moment the response ends."""
    srv = Server(tmp_path, db, TOML, env={"ONWARD_LEASE_SECONDS": "2"}).start()
    try:
        client = srv.client()
        conv = client.conversations.create()
        stream = client.responses.create(model="scripted", input="say it slowly", conversation=conv.id, stream=True)
        deltas = 0
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas += 1
                if deltas == 17:  # ≥ 2.5 s in (0.15 s a word): past one lease
                    with pytest.raises(openai.BadRequestError) as err:
                        client.responses.create(model="scripted", input="hi", conversation=conv.id)
                    assert err.value.code == "conversation_locked"
        assert client.responses.create(model="scripted", input="hi", conversation=conv.id).status == "completed"
        # a background holder renews it too; its cancel frees it
        made = client.responses.create(model="scripted", input="say it slowly", conversation=conv.id, background=True)
        time.sleep(2.5)  # past one lease; the script takes ≥ 3 s
        with pytest.raises(openai.BadRequestError):
            client.responses.create(model="scripted", input="hi", conversation=conv.id)
        assert client.responses.cancel(made.id).status == "cancelled"
        assert client.responses.create(model="scripted", input="hi", conversation=conv.id).status == "completed"
    finally:
        srv.stop()


def test_graceful_stop_ends_running_work_and_keeps_queued_work(tmp_path, db):
    """SIGTERM: a started background response ends `failed` (a restart cannot resume it), in
    full (its stream ends with `response.failed`); a queued one runs after the restart; the
    conversation is free."""
    env = {"ONWARD_BACKGROUND_JOBS": "1"}
    srv = Server(tmp_path, db, TOML, env=env).start()
    client = srv.client()
    conv = client.conversations.create()
    running = client.responses.create(model="scripted", input="say it slowly", conversation=conv.id, background=True)
    waiting = client.responses.create(model="scripted", input="hi", background=True)
    deadline = time.time() + 30
    while client.responses.retrieve(running.id).status != "in_progress" and time.time() < deadline:
        time.sleep(0.1)
    srv.stop()  # SIGTERM

    srv2 = Server(tmp_path, db, TOML, env=env).start()
    try:
        client = srv2.client()
        stopped = client.responses.retrieve(running.id)
        assert stopped.status == "failed" and "server stopped" in stopped.error.message
        events = list(client.responses.retrieve(running.id, stream=True, starting_after=0))
        assert events[-1].type == "response.failed"
        deadline = time.time() + 30
        while client.responses.retrieve(waiting.id).status in ("queued", "in_progress") and time.time() < deadline:
            time.sleep(0.1)
        assert client.responses.retrieve(waiting.id).status == "completed"
        assert client.responses.create(model="scripted", input="hi", conversation=conv.id).status == "completed"
    finally:
        srv2.stop()
