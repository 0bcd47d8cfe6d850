"""Run expiry on a server of its own (ONWARD_RUN_EXPIRY_SECONDS=2, the scripted model only),
and runs surviving a restart."""

from __future__ import annotations

import time

import pytest

from tests.conftest import SCRIPT, Server

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def short_server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"expiry-{request.param}")
    url = f"sqlite:///{tmp / 'onward.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    srv = Server(tmp, url, 'default = "scripted"\n' + SCRIPT, env={"ONWARD_RUN_EXPIRY_SECONDS": "2"}).start()
    yield srv
    srv.stop()


def test_run_waiting_for_outputs_expires(short_server):
    client = short_server.client()
    asst = client.beta.assistants.create(model="scripted", tools=WEATHER)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action" and run.expires_at - run.created_at == 2
    deadline = time.time() + 10
    while run.status == "requires_action" and time.time() < deadline:
        time.sleep(0.3)
        run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert run.status == "expired" and run.expires_at is None
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0]
    assert step.status == "expired" and step.expired_at
    assert [i.type for i in client.conversations.items.list(thread.id)] == ["message"]  # no unanswered call
    client.beta.threads.messages.create(thread.id, role="user", content="hello")  # the thread is free again
    again = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert again.status == "completed"


def test_requires_action_survives_restart(tmp_path):
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'onward.db'}", 'default = "scripted"\n' + SCRIPT).start()
    try:
        _survives(srv)
    finally:
        srv.stop()


def _survives(short_server):
    client = short_server.client()
    asst = client.beta.assistants.create(model="scripted", tools=WEATHER)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    short_server.stop()
    short_server.start()
    client = short_server.client()
    same = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert same.status == "requires_action" and same.required_action == run.required_action
    call = same.required_action.submit_tool_outputs.tool_calls[0]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "22C"}])
    assert done.status == "completed"


def test_killed_worker_ends_the_run_and_frees_the_thread(tmp_path):
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'onward.db'}", 'default = "scripted"\n' + SCRIPT).start()
    try:
        client = srv.client()
        asst = client.beta.assistants.create(model="scripted")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "say it slowly"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
        for _ in range(50):
            if client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "in_progress":
                break
            time.sleep(0.1)
        srv.kill()
        srv.start()
        client = srv.client()
        ended = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
        assert ended.status == "failed" and ended.last_error.code == "server_error" and "stopped" in ended.last_error.message
        kept = client.beta.threads.messages.list(thread.id, order="asc").data
        assert kept[0].role == "user" and all(m.status == "incomplete" and m.incomplete_details.reason == "run_failed" for m in kept[1:])
        again = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
        assert again.status == "completed"
    finally:
        srv.stop()


def test_queued_runs_cancel_and_expire(tmp_path):
    """With no free worker a run stays queued: it can be cancelled, or it expires."""
    env = {"ONWARD_BACKGROUND_JOBS": "0", "ONWARD_RUN_EXPIRY_SECONDS": "2"}
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'onward.db'}", 'default = "scripted"\n' + SCRIPT, env=env).start()
    try:
        client = srv.client()
        asst = client.beta.assistants.create(model="scripted")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
        assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "queued"
        cancelled = client.beta.threads.runs.cancel(run_id=run.id, thread_id=thread.id)
        assert cancelled.status == "cancelled" and cancelled.cancelled_at
        late = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
        deadline = time.time() + 10
        while late.status == "queued" and time.time() < deadline:
            time.sleep(0.3)
            late = client.beta.threads.runs.retrieve(late.id, thread_id=thread.id)
        assert late.status == "expired"
    finally:
        srv.stop()
