"""Model names old code sends: served with zero configuration, 404 with a models file unless a
`fallback` route is set (issue 7, item 7)."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import openai
import pytest

from tests.conftest import SCRIPT, Server

FALLBACK_TOML = 'default = "scripted"\nfallback = "scripted"\n' + SCRIPT


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def bare_server(request, tmp_path_factory):
    """`onward serve` with no models file, as `./dev serve` runs on a fresh machine."""
    tmp = tmp_path_factory.mktemp(f"bare-{request.param}")
    url = f"sqlite:///{tmp / 'onward.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    srv = Server(tmp, url, None, env={"ONWARD_MODELS_FILE": ""}).start()
    yield srv
    srv.stop()


def server_log(srv: Server) -> str:
    srv.log.flush()
    return (srv.tmp / f"server-{srv.port}.log").read_text()


def test_old_names_run_with_zero_configuration(bare_server):
    client = bare_server.client()
    for name in ("gpt-4o", "gpt-4-turbo-preview", "gpt-4o"):
        resp = client.responses.create(model=name, input="Say hi.", max_output_tokens=8)
        assert resp.model == name and resp.status in ("completed", "incomplete")
        assert resp.output_text
    log = server_log(bare_server)
    assert log.count("model 'gpt-4o' is served by smollm2 (no models file)") == 1
    assert log.count("model 'gpt-4-turbo-preview' is served by smollm2 (no models file)") == 1
    # a client that checks the model first finds it; the list shows what is configured
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    assert "smollm2" in [m.id for m in client.models.list()]


def test_old_assistants_code_runs_with_zero_configuration(bare_server):
    client = bare_server.client()
    assistant = client.beta.assistants.create(model="gpt-4-turbo", instructions="You are terse.")
    assert assistant.model == "gpt-4-turbo"
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hi."}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=16)
    assert run.status in ("completed", "incomplete") and run.model == "gpt-4-turbo"
    override = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, model="gpt-4o", max_completion_tokens=16)
    assert override.status in ("completed", "incomplete") and override.model == "gpt-4o"
    steps = client.beta.threads.runs.steps.list(run_id=override.id, thread_id=thread.id)
    assert steps.data and steps.data[0].type == "message_creation"


def test_unknown_names_are_404_with_a_models_file(server):
    client = server.client()
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(model="gpt-4o", input="hi")
    assert err.value.code == "model_not_found" and err.value.param == "model"
    assert "scripted" in err.value.message  # names what is configured
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("gpt-4o")
    assert err.value.code == "model_not_found"
    a = client.beta.assistants.create(model="scripted")
    t = client.beta.threads.create()
    with pytest.raises(openai.NotFoundError) as err:
        client.beta.threads.runs.create(thread_id=t.id, assistant_id=a.id, model="gpt-4o")
    assert err.value.code == "model_not_found" and err.value.param == "model"
    r = httpx.post(f"{server.url}/responses", json={"model": "nope", "input": "hi"}, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"


def test_fallback_route_serves_unknown_names(tmp_path):
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'onward.db'}", FALLBACK_TOML).start()
    try:
        client = srv.client()
        resp = client.responses.create(model="gpt-4o", input="hi")
        assert resp.model == "gpt-4o" and resp.output_text == "Hello from the script."
        assert client.models.retrieve("gpt-4-turbo").id == "gpt-4-turbo"
        assert "model 'gpt-4o' is served by scripted (the models file's fallback)" in server_log(srv)
    finally:
        srv.stop()


def test_fallback_naming_no_route_is_refused_at_start(tmp_path):
    models = tmp_path / "models.toml"
    models.write_text('fallback = "missing"\n[models.smollm2]\nprovider = "local"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "onward.cli", "serve", "--port", "0", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--models", str(models)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert re.search(r"fallback 'missing' is not a model route", proc.stderr)
    assert "Traceback" not in proc.stderr
