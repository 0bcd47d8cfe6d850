"""Code interpreter end to end: Containers API, the sandboxed kernel, the Responses tool (a
scripted model driving the calls, and the real embedded model), and escape attempts that must
fail while the server keeps answering /health. Real bubblewrap, real ipykernel, real SDK."""

from __future__ import annotations

import io
import shutil
import threading
import time

import httpx
import pytest

from tests.conftest import ROOT, Server

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (./dev and .ci/run install it)")

CHART = (
    "import pandas as pd, matplotlib.pyplot as plt\\n"
    "df = pd.DataFrame({'city': ['Oslo', 'Paris', 'Rome'], 'temp': [3, 12, 18]})\\n"
    "df.to_csv('/mnt/data/temps.csv', index=False)\\n"
    "df.plot(x='city', y='temp', kind='bar'); plt.savefig('/mnt/data/temps.png'); plt.show()\\n"
    "print(df['temp'].sum())"
)
MODELS = f"""
default = "ci"
[models.smollm2]
provider = "local"
[models.ci]
provider = "scripted"
script = [
  {{ match = "Files written|^33", text = "The total is 33; the data is in sandbox:/mnt/data/temps.csv and the chart in temps.png." }},
  {{ match = "QUIET LAKE", text = "The notes say QUIET LAKE." }},
  {{ match = "Traceback|Error", text = "The code failed." }},
  {{ match = "chart", tool_calls = [{{ name = "code_interpreter", arguments = {{ code = "{CHART}" }} }}] }},
  {{ match = "divide", tool_calls = [{{ name = "code_interpreter", arguments = {{ code = "1/0" }} }}] }},
  {{ match = "^x = ", tool_calls = [{{ name = "code_interpreter", arguments = {{ code = "x = 41" }} }}] }},
  {{ match = "print x", tool_calls = [{{ name = "code_interpreter", arguments = {{ code = "print(x + 1)" }} }}] }},
  {{ match = "read the upload", tool_calls = [{{ name = "code_interpreter", arguments = {{ code = "print(open('/mnt/data/notes.txt').read().upper())" }} }}] }},
  {{ match = "run job", tool_calls = [{{ name = "code_interpreter", arguments = {{ code = "exec(open('/mnt/data/job.py').read())" }} }}] }},
  {{ text = "Done." }},
]
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def ci_server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"ci-{request.param}")
    url = f"sqlite:///{tmp / 'onward.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    srv = Server(tmp, url, MODELS, env={"ONWARD_CODE_INTERPRETER_TIMEOUT": "20"}).start()
    srv.kind = request.param
    yield srv
    srv.stop()


def _client(srv):
    return srv.client(timeout=300)


def test_containers_api(ci_server):
    client = _client(ci_server)
    upload = client.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    c = client.containers.create(name="api", file_ids=[upload.id], expires_after={"anchor": "last_active_at", "minutes": 5})
    assert c.id.startswith("cntr_") and c.status == "running" and c.expires_after.minutes == 5 and c.memory_limit == "1g"
    assert client.containers.retrieve(c.id).name == "api"
    assert c.id in [x.id for x in client.containers.list(limit=100)]
    files = client.containers.files.list(c.id).data
    assert [f.path for f in files] == ["/mnt/data/data.csv"] and files[0].source == "user" and files[0].id.startswith("cfile_")
    up = client.containers.files.create(c.id, file=("notes.txt", io.BytesIO(b"hello")))
    assert up.path == "/mnt/data/notes.txt" and up.bytes == 5
    attached = client.containers.files.create(c.id, file_id=upload.id)
    assert attached.path == "/mnt/data/data.csv"
    assert client.containers.files.content.retrieve(up.id, container_id=c.id).read() == b"hello"
    assert client.containers.files.retrieve(up.id, container_id=c.id).bytes == 5
    assert client.containers.files.delete(up.id, container_id=c.id) is None or True
    with pytest.raises(Exception) as err:
        client.containers.files.retrieve(up.id, container_id=c.id)
    assert getattr(err.value, "status_code", None) == 404
    page = client.containers.files.list(c.id, limit=1)
    assert len(page.data) == 1
    r = httpx.post(f"{ci_server.url}/containers", json={"name": "x", "memory_limit": "2g"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "memory_limit"
    r = httpx.post(f"{ci_server.url}/containers", json={})
    assert r.status_code == 400 and r.json()["error"]["param"] == "name"
    client.containers.delete(c.id)
    assert httpx.get(f"{ci_server.url}/containers/{c.id}").status_code == 404


def _code_calls(resp):
    return [o for o in resp.output if o.type == "code_interpreter_call"]


def test_chart_and_csv_downloaded(ci_server):
    client = _client(ci_server)
    resp = client.responses.create(model="ci", input="draw a chart", tools=[{"type": "code_interpreter", "container": {"type": "auto"}}], include=["code_interpreter_call.outputs"])
    assert resp.status == "completed", resp.error
    (call,) = _code_calls(resp)
    assert call.container_id.startswith("cntr_") and "to_csv" in call.code and call.status == "completed"
    logs = [o for o in call.outputs if o.type == "logs"]
    images = [o for o in call.outputs if o.type == "image"]
    assert "33" in logs[0].logs and len(images) == 1
    text = resp.output[-1].content[0]
    cites = [a for a in text.annotations if a.type == "container_file_citation"]
    by_name = {a.filename: a for a in cites}
    assert {"temps.csv", "temps.png"} <= set(by_name)
    csv = client.containers.files.content.retrieve(by_name["temps.csv"].file_id, container_id=call.container_id).read()
    assert csv.decode().splitlines() == ["city,temp", "Oslo,3", "Paris,12", "Rome,18"]
    png = client.containers.files.content.retrieve(by_name["temps.png"].file_id, container_id=call.container_id).read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    shown = httpx.get(images[0].url)
    assert shown.status_code == 200 and shown.content[:8] == b"\x89PNG\r\n\x1a\n"
    # without include, no outputs
    again = client.responses.create(model="ci", input="divide", tools=[{"type": "code_interpreter", "container": call.container_id}])
    assert _code_calls(again)[0].outputs is None


def test_state_kept_errors_are_logs_and_streaming(ci_server):
    client = _client(ci_server)
    c = client.containers.create(name="state")
    tools = [{"type": "code_interpreter", "container": c.id}]
    first = client.responses.create(model="ci", input="x = 41", tools=tools)
    assert _code_calls(first)[0].container_id == c.id
    with client.responses.stream(model="ci", input="print x", tools=tools, include=["code_interpreter_call.outputs"]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    for kind in ("response.code_interpreter_call.in_progress", "response.code_interpreter_call_code.delta", "response.code_interpreter_call_code.done", "response.code_interpreter_call.interpreting", "response.code_interpreter_call.completed"):
        assert kind in kinds
    assert _code_calls(final)[0].outputs[0].logs.strip() == "42"
    failed = client.responses.create(model="ci", input="divide", tools=tools, include=["code_interpreter_call.outputs"])
    assert failed.status == "completed"
    assert "ZeroDivisionError" in _code_calls(failed)[0].outputs[0].logs
    assert failed.output[-1].content[0].text == "The code failed."


def test_uploaded_file_read_by_code(ci_server):
    client = _client(ci_server)
    upload = client.files.create(file=("notes.txt", b"quiet lake"), purpose="user_data")
    resp = client.responses.create(model="ci", input="read the upload", tools=[{"type": "code_interpreter", "container": {"type": "auto", "file_ids": [upload.id]}}], include=["code_interpreter_call.outputs"])
    assert "QUIET LAKE" in _code_calls(resp)[0].outputs[0].logs


def test_bad_tool_requests_are_400(ci_server):
    bad = [
        ({"type": "code_interpreter"}, "tools[0].container"),
        ({"type": "code_interpreter", "container": {"type": "manual"}}, "tools[0].container.type"),
        ({"type": "code_interpreter", "container": "cntr_missing"}, "tools[0].container"),
        ({"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file-nope"]}}, "tools[0].container.file_ids[0]"),
    ]
    for tool, param in bad:
        r = httpx.post(f"{ci_server.url}/responses", json={"model": "ci", "input": "hi", "tools": [tool]}, timeout=60)
        assert 400 <= r.status_code < 500 and r.json()["error"]["param"] == param, (tool, r.text)


ESCAPES = {
    "server port": "import socket; s = socket.socket(); s.settimeout(3); s.connect(('127.0.0.1', {port}))",
    "any address": "import socket; s = socket.create_connection(('1.1.1.1', 53), timeout=3)",
    "data dir": "print(open('{data}/onward.db', 'rb').read(16))" ,
    "checkout": "print(open('{root}/pyproject.toml').read())",
    "write outside": "open('/usr/evil', 'w').write('x')",
    # the checkout is absent, or holds only the bound virtualenv when it lives inside it
    "write tmp is private": "open('/tmp/x', 'w').write('x'); import os; print(os.listdir('/'), os.listdir('{root}') if os.path.isdir('{root}') else 'no checkout')",
}


def test_escape_attempts_fail_and_server_stays_healthy(ci_server):
    client = _client(ci_server)
    c = client.containers.create(name="escape")
    stop = threading.Event()
    health: list[int] = []

    def watch():
        while not stop.is_set():
            try:
                health.append(httpx.get(f"http://127.0.0.1:{ci_server.port}/health", timeout=30).status_code)
            except httpx.HTTPError:
                health.append(0)
            time.sleep(0.5)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for name, code in ESCAPES.items():
            code = code.format(port=ci_server.port, data=ci_server.tmp, root=ROOT)
            out = _run(ci_server, c.id, code)
            if name == "write tmp is private":
                assert "Error" not in out and "pyproject.toml" not in out
                assert not (ROOT / "x").exists()
                continue
            assert "Error" in out, (name, out)  # OSError / PermissionError / FileNotFoundError
        assert not __import__("os").path.exists("/usr/evil")
        bomb = _run(ci_server, c.id, "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time; time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('stopped after', n, e)")
        assert "stopped after" in bomb
        memory = _run(ci_server, c.id, "b = bytearray(2 * 1024 ** 3)")
        assert "MemoryError" in memory or "kernel died" in memory
        loop = _run(ci_server, c.id, "while True: pass")
        assert "timed out" in loop
        after = _run(ci_server, c.id, "print('alive', 6 * 7)")
        assert "alive 42" in after  # a fresh kernel after the timeout
    finally:
        stop.set()
        watcher.join()
    assert health and all(code == 200 for code in health)


def _run(srv, container_id: str, code: str) -> str:
    """Run `code` in the container: upload it as job.py, and a scripted turn calls
    code_interpreter with `exec(open('/mnt/data/job.py').read())`. Returns the logs."""
    r = httpx.post(f"{srv.url}/containers/{container_id}/files", files={"file": ("job.py", code.encode())}, timeout=60)
    assert r.status_code == 200, r.text
    resp = srv.client(timeout=300).responses.create(
        model="ci", input="run job", tools=[{"type": "code_interpreter", "container": container_id}], include=["code_interpreter_call.outputs"]
    )
    return "".join(o.logs for c in _code_calls(resp) for o in c.outputs or [] if o.type == "logs")


def test_embedded_model_runs_the_flow(ci_server):
    """The real embedded model, forced to call the tool: its code may be poor; the flow must hold."""
    if ci_server.kind != "sqlite":
        pytest.skip("the flow does not depend on the database; one run of the slow model is enough")
    client = _client(ci_server)
    resp = client.responses.create(
        model="smollm2",
        input="Use Python to compute 6 * 7.",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        tool_choice={"type": "code_interpreter"},
        include=["code_interpreter_call.outputs"],
        temperature=0,
        max_output_tokens=200,
    )
    assert resp.status in ("completed", "incomplete")
    calls = _code_calls(resp)
    assert calls and calls[0].status == "completed" and calls[0].container_id.startswith("cntr_")
    assert calls[0].outputs[0].type == "logs"
    assert client.containers.retrieve(calls[0].container_id).status == "running"


def test_assistants_face(ci_server):
    """An Assistants run with code_interpreter: run steps with the code and its outputs (logs,
    image -> file id), the answer with image_file content and a file_path annotation, a
    streamed step delta carrying the code, files from tool_resources and attachments, and
    state kept per thread."""
    from openai import AssistantEventHandler

    client = _client(ci_server)
    upload = client.files.create(file=("notes.txt", b"quiet lake"), purpose="assistants")
    asst = client.beta.assistants.create(model="ci", tools=[{"type": "code_interpreter"}], tool_resources={"code_interpreter": {"file_ids": [upload.id]}})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "draw a chart"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, poll_interval_ms=200)
    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    tool_step = next(s for s in steps if s.type == "tool_calls")
    (call,) = tool_step.step_details.tool_calls
    assert call.type == "code_interpreter" and "to_csv" in call.code_interpreter.input
    kinds = {o.type: o for o in call.code_interpreter.outputs}
    assert "33" in kinds["logs"].logs
    image_id = kinds["image"].image.file_id
    assert client.files.content(image_id).read()[:8] == b"\x89PNG\r\n\x1a\n"
    message = client.beta.threads.messages.list(thread.id, order="desc").data[0]
    assert message.content[0].type == "image_file" and message.content[0].image_file.file_id.startswith("file-")
    text = next(c for c in message.content if c.type == "text").text
    paths = [a for a in text.annotations if a.type == "file_path"]
    assert paths and text.value[paths[0].start_index : paths[0].end_index] == "sandbox:/mnt/data/temps.csv"
    csv = client.files.content(paths[0].file_path.file_id).read().decode()
    assert csv.splitlines()[1] == "Oslo,3"

    # the assistant's file is in the thread's container; state persists within the thread
    client.beta.threads.messages.create(thread.id, role="user", content="read the upload")
    deltas: list[str] = []

    class Handler(AssistantEventHandler):
        def on_tool_call_delta(self, delta, snapshot):
            if delta.type == "code_interpreter" and delta.code_interpreter and delta.code_interpreter.input:
                deltas.append(delta.code_interpreter.input)

    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=asst.id, event_handler=Handler()) as stream:
        stream.until_done()
    assert "".join(deltas) == "print(open('/mnt/data/notes.txt').read().upper())"
    answer = client.beta.threads.messages.list(thread.id, order="desc").data[0]
    assert "QUIET LAKE" in answer.content[-1].text.value

    # a message attachment for code_interpreter, and tool_choice forcing the tool
    note = client.files.create(file=("job.py", b"print('attached', 2 + 2)"), purpose="assistants")
    client.beta.threads.messages.create(thread.id, role="user", content="run job", attachments=[{"file_id": note.id, "tools": [{"type": "code_interpreter"}]}])
    forced = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, tool_choice={"type": "code_interpreter"}, poll_interval_ms=200)
    assert forced.status == "completed", forced.last_error
    steps = client.beta.threads.runs.steps.list(forced.id, thread_id=thread.id, include=[]).data
    logs = [o.logs for s in steps if s.type == "tool_calls" for c in s.step_details.tool_calls for o in c.code_interpreter.outputs if o.type == "logs"]
    assert any("attached 4" in x for x in logs)

    # deleting the thread deletes its container (its directory under the data dir goes)
    def dirs() -> set[str]:
        return {p.name for p in (ci_server.tmp / "containers").iterdir()}

    before = dirs()
    client.beta.threads.delete(thread.id)
    gone = before - dirs()
    assert len(gone) == 1 and next(iter(gone)).startswith("cntr_")
