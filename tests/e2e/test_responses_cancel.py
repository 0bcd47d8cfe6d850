"""Cancelling background responses is exact under races: a cancel sent the instant after the
create answers `cancelled`, and that is final; nothing stays queued or in progress, and the
server keeps answering every other call (no `database is locked`)."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.conftest import SCRIPT, Server

LIVE = ("queued", "in_progress")


def _settled(client, response_id: str, timeout: float = 60.0):
    deadline = time.time() + timeout
    while True:
        resp = client.responses.retrieve(response_id)
        if resp.status not in LIVE or time.time() > deadline:
            return resp
        time.sleep(0.1)


def _other_endpoints_answer(server) -> None:
    client = server.client()
    assert client.responses.create(model="scripted", input="hi").status == "completed"
    conv = client.conversations.create(items=[{"type": "message", "role": "user", "content": "hello"}])
    assert client.conversations.items.list(conv.id).data
    assert client.models.list().data
    r = httpx.post(f"{server.url}/threads", json={}, headers={"Authorization": "Bearer sk-test", "OpenAI-Beta": "assistants=v2"})
    assert r.status_code == 200, r.text


def test_cancel_right_after_create_50_times_scripted(server):
    client = server.client()
    ids = []
    for _ in range(50):
        made = client.responses.create(model="scripted", input="say it slowly", background=True)
        cancelled = client.responses.cancel(made.id)
        # the slow script takes seconds: every cancel lands before the end, and is exact
        assert cancelled.status == "cancelled", (made.id, cancelled.status)
        ids.append(made.id)
    for response_id in ids:
        assert client.responses.retrieve(response_id).status == "cancelled"
    time.sleep(1.0)  # a late worker must not bring any of them back
    assert {client.responses.retrieve(i).status for i in ids} == {"cancelled"}
    _other_endpoints_answer(server)


def test_cancel_right_after_create_50_times_real_model(server):
    client = server.client()
    outcomes = []
    for i in range(50):
        made = client.responses.create(model="smollm2", input=f"Count to {i + 3}.", background=True, max_output_tokens=16)
        try:
            answer = client.responses.cancel(made.id)
        except openai.BadRequestError as exc:
            # only when the model had already finished: then the response stays completed
            final = client.responses.retrieve(made.id)
            assert final.status in ("completed", "incomplete"), final.status
            assert f"Cannot cancel a {final.status} response." in exc.message
            outcomes.append(final.status)
            continue
        assert answer.status == "cancelled"
        assert client.responses.retrieve(made.id).status == "cancelled"
        outcomes.append("cancelled")
    assert "cancelled" in outcomes
    _other_endpoints_answer(server)


def test_cancel_queued_and_running_burst(server):
    """More jobs than workers: some are queued with no worker yet, some run; cancelling them all
    (newest first, so queued ones go first) ends every one `cancelled`."""
    client = server.client()
    made = [client.responses.create(model="scripted", input="say it slowly", background=True) for _ in range(10)]
    assert "queued" in {client.responses.retrieve(m.id).status for m in made}
    for m in reversed(made):
        assert client.responses.cancel(m.id).status == "cancelled"
    finals = [_settled(client, m.id) for m in made]
    assert {f.status for f in finals} == {"cancelled"}
    _other_endpoints_answer(server)


def test_cancel_a_streaming_response(server):
    client = server.client()
    stream = client.responses.create(model="scripted", input="say it slowly", background=True, stream=True)
    seen = []
    for event in stream:
        seen.append(event)
        if event.type == "response.output_text.delta":
            assert client.responses.cancel(seen[0].response.id).status == "cancelled"
    # the stream ended (no hang): the open message was closed `incomplete`, nothing completed
    assert not any(e.type == "response.completed" for e in seen)
    closed = [e for e in seen if e.type == "response.output_item.done"]
    assert closed and closed[-1].item.status == "incomplete"
    response_id = seen[0].response.id
    final = client.responses.retrieve(response_id)
    assert final.status == "cancelled"
    assert final.output and final.output[0].status == "incomplete"  # the partial answer is kept
    replay = list(client.responses.retrieve(response_id, stream=True, starting_after=0))
    assert [e.sequence_number for e in replay] == [e.sequence_number for e in seen[1:]]


def test_cancel_twice_and_after_the_end(server):
    client = server.client()
    made = client.responses.create(model="scripted", input="say it slowly", background=True)
    assert client.responses.cancel(made.id).status == "cancelled"
    assert client.responses.cancel(made.id).status == "cancelled"  # as is, again
    done = client.responses.create(model="scripted", input="hi", background=True)
    assert _settled(client, done.id).status == "completed"
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.cancel(done.id)
    assert err.value.body["param"] == "response_id"
    assert client.responses.retrieve(done.id).status == "completed"


def test_cancel_through_another_process(tmp_path, pg_database):
    """The worker runs in process A; the cancel reaches process B: the durable flag stops it."""
    toml = 'default = "scripted"\n' + SCRIPT
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(tmp_path / "a", pg_database, toml).start()
    b = Server(tmp_path / "b", pg_database, toml).start()
    try:
        made = a.client().responses.create(model="scripted", input="say it slowly", background=True)
        assert b.client().responses.cancel(made.id).status == "cancelled"
        time.sleep(1.0)
        assert a.client().responses.retrieve(made.id).status == "cancelled"
    finally:
        a.stop()
        b.stop()
