"""What a newcomer sees from `onward serve` (issue 7, item 8): one ready line once the port
listens, one line when the port is taken, one access-log line per request, and an
`x-request-id` on every response."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest

from tests.conftest import PG_URL, SCRIPT, Server, free_port

READY = re.compile(r"Onward ready on (http://127\.0\.0\.1:(\d+)/v1)")


def server_log(srv: Server) -> str:
    srv.log.flush()
    return (srv.tmp / f"server-{srv.port}.log").read_text()


def access_lines(srv: Server, request_id: str) -> list[str]:
    """The access-log lines naming `request_id` (they are written when the request ends)."""
    for _ in range(50):
        lines = [line for line in server_log(srv).splitlines() if "onward.access" in line and line.endswith(request_id)]
        if lines:
            return lines
        time.sleep(0.1)
    return []


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keyed")
    srv = Server(tmp, f"sqlite:///{tmp / 'onward.db'}", SCRIPT, env={"ONWARD_API_KEYS": "sk-right"}).start()
    yield srv
    srv.stop()


def test_ready_line_once_listening(tmp_path):
    port = free_port()
    env = {**os.environ, "ONWARD_DATA_DIR": str(tmp_path)}
    (tmp_path / "models.toml").write_text(SCRIPT)
    cmd = [sys.executable, "-m", "onward.cli", "serve", "--port", str(port), "--models", str(tmp_path / "models.toml")]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Onward ready" in line:
                break
        match = READY.search(lines[-1])
        assert match and int(match.group(2)) == port, lines
        assert "scripted from" in lines[-1]  # says which models it serves
        # printed only once the socket listens: the first request needs no retry
        assert httpx.get(f"{match.group(1)[:-3]}/health", timeout=10).status_code == 200
        assert not any("Onward" in line for line in lines[:-1])  # one line, not a banner before
    finally:
        proc.terminate()
        proc.wait(10)


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "onward.cli", "serve", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'x.db'}"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "ONWARD_DATA_DIR": str(tmp_path)},
        )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"onward: port {port} is in use on 127.0.0.1: stop the other server or pass --port N (or set ONWARD_PORT)"


def test_request_ids_and_access_log(server):
    client = server.client()
    raw = client.responses.with_raw_response.create(model="scripted", input="hi")
    rid = raw.headers["x-request-id"]
    assert re.fullmatch(r"req_[A-Za-z0-9]{32}", rid)
    assert raw.parse()._request_id == rid  # the SDK's own reading of the header
    [line] = access_lines(server, rid)
    assert re.search(rf"INFO onward\.access: POST /v1/responses 200 \d+\.\dms {rid}$", line)

    # a sane id the client (or a proxy) chose is kept; an unsafe one is replaced
    mine = client.models.with_raw_response.list(extra_headers={"x-request-id": "trace-42.a"})
    assert mine.headers["x-request-id"] == "trace-42.a"
    assert access_lines(server, "trace-42.a")
    forged = httpx.get(f"{server.url}/models", headers={"x-request-id": "a b\tc" + "x" * 200})
    assert forged.headers["x-request-id"].startswith("req_")

    # errors carry it, in the SDK's exception too
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.retrieve("resp_missing")
    rid = err.value.request_id
    assert rid and rid.startswith("req_")
    assert re.search(rf"GET /v1/responses/resp_missing 404 [\d.]+ms {rid}$", access_lines(server, rid)[0])

    # a stream: the header comes with the first bytes, the log line when the stream ends
    with client.responses.with_streaming_response.create(model="scripted", input="hi", stream=True) as stream:
        rid = stream.headers["x-request-id"]
        body = stream.read().decode()
    assert "response.completed" in body
    assert " 200 " in access_lines(server, rid)[0]


def test_request_ids_on_websocket_and_refusals(keyed_server):
    from websockets.sync.client import connect

    r = httpx.get(f"{keyed_server.url}/models", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["x-request-id"].startswith("req_")
    assert " 401 " in access_lines(keyed_server, r.headers["x-request-id"])[0]
    url = keyed_server.url.replace("http://", "ws://") + "/responses"
    with connect(url, additional_headers={"Authorization": "Bearer sk-right", "x-request-id": "ws-1"}) as ws:
        assert ws.response.headers["x-request-id"] == "ws-1"
        ws.send(json.dumps({"type": "response.create", "model": "scripted", "input": "hi", "store": False}))
        while json.loads(ws.recv())["type"] != "response.completed":
            pass
    assert re.search(r"WS /v1/responses 101 [\d.]+ms ws-1$", access_lines(keyed_server, "ws-1")[0])


def test_workers_need_postgresql_and_a_free_port(tmp_path):
    env = {**os.environ, "ONWARD_DATA_DIR": str(tmp_path)}
    serve = [sys.executable, "-m", "onward.cli", "serve"]
    proc = subprocess.run([*serve, "--workers", "2", "--db", f"sqlite:///{tmp_path / 'x.db'}"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "onward: --workers 2 needs PostgreSQL (--db postgresql://… or ONWARD_DATABASE_URL): a SQLite database serves one process"
    )
    proc = subprocess.run([*serve, "--workers", "0"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2 and "--workers (ONWARD_PROCESSES) must be at least 1" in proc.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([*serve, "--workers", "2", "--port", str(port), "--db", PG_URL], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"onward: port {port} is in use on 127.0.0.1: stop the other server or pass --port N (or set ONWARD_PORT)"
