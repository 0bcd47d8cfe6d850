"""A killed server never leaves a background response in progress forever."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

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
    srv = Server(tmp_path, db, toml, env={"ONWARD_BACKGROUND_JOBS": "1"}).start()
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


def _gone(pids: list[int], timeout: float = 15.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(Path(f"/proc/{pid}").exists() and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in pids):
            return True
        time.sleep(0.1)
    return False


def test_kill_one_of_two_workers_mid_response(tmp_path, pg_database):
    """`onward serve --workers 2`: the process running a background response is killed; the
    other one ends it `failed`, a client resumes its stream there, and uvicorn replaces the
    dead process. SIGTERM stops every process; a killed parent takes its children with it."""
    toml = 'default = "scripted"\n' + SCRIPT
    srv = Server(tmp_path, pg_database, toml, env={"ONWARD_BACKGROUND_JOBS": "1"}, workers=2).start()
    try:
        a, b = srv.worker_pids()
        running = srv.client_on(a).responses.create(model="scripted", input="say it slowly", background=True)
        on_b = srv.client_on(b)
        _wait_status(on_b, running.id, {"in_progress"})
        os.kill(a, signal.SIGKILL)
        failed = _wait_status(on_b, running.id, {"failed", "completed", "cancelled"})
        assert failed.status == "failed" and "stopped before it finished" in failed.error.message
        events = list(on_b.responses.retrieve(running.id, stream=True, starting_after=0))
        assert events[-1].type == "response.failed"
        deadline = time.time() + 60
        while time.time() < deadline and (len(srv.worker_pids()) != 2 or a in srv.worker_pids()):
            time.sleep(0.2)
        pids = srv.worker_pids()
        assert len(pids) == 2 and a not in pids and b in pids  # replaced
        assert f"server process {a} died (exit code -9); a new one replaces it" in srv.log_text()
        c = next(p for p in pids if p != b)
        assert srv.client_on(c).responses.create(model="scripted", input="hi").output_text == "Hello from the script."
    finally:
        pids = srv.worker_pids() if srv.proc and srv.proc.poll() is None else []
        srv.stop()
    assert srv.proc.returncode == 0 and _gone(pids)

    srv = Server(tmp_path, pg_database, toml, workers=2).start()
    pids = srv.worker_pids()
    srv.kill()  # SIGKILL to the parent: the children get SIGTERM (PR_SET_PDEATHSIG)
    assert len(pids) == 2 and _gone(pids)


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
