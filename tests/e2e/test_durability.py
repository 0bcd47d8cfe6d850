"""A killed server never leaves a background response in progress forever."""

from __future__ import annotations

import time

from tests.conftest import SCRIPT, Server


def _wait_status(client, response_id, statuses, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        resp = client.responses.retrieve(response_id)
        if resp.status in statuses:
            return resp
        time.sleep(0.1)
    raise AssertionError(f"{response_id} stayed {resp.status}")


def test_kill_mid_response_then_restart(tmp_path):
    toml = 'default = "scripted"\n' + SCRIPT
    db = f"sqlite:///{tmp_path / 'onward.db'}"
    srv = Server(tmp_path, db, toml, env={"ONWARD_WORKERS": "1"}).start()
    client = srv.client()
    running = client.responses.create(model="scripted", input="say it slowly", background=True)
    waiting = client.responses.create(model="scripted", input="hi", background=True)  # no free worker: queued
    _wait_status(client, running.id, {"in_progress"})
    assert client.responses.retrieve(waiting.id).status == "queued"
    srv.kill()  # SIGKILL: no chance to clean up

    srv2 = Server(tmp_path, db, toml).start()
    client = srv2.client()
    try:
        failed = _wait_status(client, running.id, {"failed", "completed", "cancelled"})
        assert failed.status == "failed"
        assert "stopped before it finished" in failed.error.message
        resumed = _wait_status(client, waiting.id, {"completed", "failed"})
        assert resumed.status == "completed" and resumed.output_text == "Hello from the script."
        # a client resuming the dead response's stream gets its end, not a hang
        events = list(client.responses.retrieve(running.id, stream=True, starting_after=0))
        assert events[-1].type == "response.failed"
    finally:
        srv2.stop()


def test_api_keys(tmp_path):
    toml = 'default = "scripted"\n' + SCRIPT
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", toml, env={"ONWARD_API_KEYS": "k1,k2"}).start()
    try:
        import openai
        import pytest

        with pytest.raises(openai.AuthenticationError) as err:
            srv.client(api_key="wrong").responses.create(model="scripted", input="hi")
        assert err.value.code == "invalid_api_key"
        assert srv.client(api_key="k2").responses.create(model="scripted", input="hi").status == "completed"
    finally:
        srv.stop()
