"""Codex CLI, unchanged, against Onward: a turn with a shell tool call and its result.

The model is scripted (a 135M model cannot be trusted to drive Codex's tools); HTTP, storage
and the Codex client are real. `codex exec` runs where `@openai/codex` installs from npm; the
recorded Codex requests (tests/fixtures/codex_request.json) are replayed everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "codex_request.json"
MODEL = "codex-script"
MODELS = f"""default = "{MODEL}"
[models.{MODEL}]
provider = "scripted"
script = [
  {{ match = "onward-shell-ok", text = "The command printed onward-shell-ok." }},
  {{ match = "run echo", tool_calls = [{{ name = "exec_command", arguments = {{ cmd = "echo onward-shell-ok" }} }}] }},
  {{ text = "OK." }},
]
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def codex_server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"codex-{request.param}")
    url = f"sqlite:///{tmp / 'onward.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    srv = Server(tmp, url, MODELS).start()
    yield srv
    srv.stop()


def _sse(body: bytes) -> list[dict]:
    return [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ") and line != "data: [DONE]"]


def _turns() -> list[dict]:
    turns = json.loads(FIXTURE.read_text())["turns"]
    return [dict(turn, model=MODEL) for turn in turns]


def test_recorded_codex_turns_replay(codex_server):
    """Codex's own bytes: namespace and web_search tools, client_metadata, prompt_cache_key,
    reasoning.encrypted_content, store=false; first the shell call, then the answer."""
    first, second = _turns()
    assert {t["type"] for t in first["tools"]} >= {"function", "namespace", "web_search"}
    assert "client_metadata" in first and "prompt_cache_key" in first
    headers = {"authorization": "Bearer sk-test", "accept": "text/event-stream"}
    with httpx.Client(base_url=codex_server.url, headers=headers, timeout=60) as http:
        reply = http.post("/responses", json=first)
        assert reply.status_code == 200, reply.text
        events = _sse(reply.content)
        final = events[-1]["response"]
        assert events[-1]["type"] == "response.completed"
        call = final["output"][-1]
        assert call["type"] == "function_call" and call["name"] == "exec_command"
        assert json.loads(call["arguments"]) == {"cmd": "echo onward-shell-ok"}
        assert final["prompt_cache_key"] == first["prompt_cache_key"] and final["store"] is False
        assert [t["type"] for t in final["tools"]] == [t["type"] for t in first["tools"]]

        reply = http.post("/responses", json=second)
        assert reply.status_code == 200, reply.text
        final = _sse(reply.content)[-1]["response"]
        assert final["status"] == "completed"
        assert final["output"][-1]["content"][0]["text"] == "The command printed onward-shell-ok."


@pytest.fixture(scope="module")
def codex_bin(tmp_path_factory) -> str:
    """The `codex` binary: on PATH, or installed from npm into a temporary prefix."""
    found = shutil.which("codex")
    if found:
        return found
    npm = shutil.which("npm")
    if not npm:
        pytest.skip("npm is not installed: cannot install @openai/codex")
    prefix = tmp_path_factory.mktemp("codex-npm")
    try:
        subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "@openai/codex"], check=True, capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"@openai/codex does not install here: {exc}")
    binary = prefix / "node_modules" / ".bin" / "codex"
    if not binary.exists():
        pytest.skip("@openai/codex installed without its binary")
    return str(binary)


@pytest.fixture
def codex_home():
    """A CODEX_HOME outside /tmp: under a temporary directory Codex refuses to create its
    helper binaries and then cannot start a shell ("Failed to create unified exec process")."""
    home = Path.home() / ".cache" / "onward-tests" / f"codex-home-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_codex_exec_runs_a_shell_call(codex_server, codex_bin, codex_home, tmp_path):
    home = codex_home
    (home / "config.toml").write_text(
        f'model = "{MODEL}"\nmodel_provider = "onward"\n\n[model_providers.onward]\nname = "Onward"\n'
        f'base_url = "{codex_server.url}"\nwire_api = "responses"\nenv_key = "ONWARD_API_KEY"\n'
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "CODEX_HOME": str(home), "ONWARD_API_KEY": "sk-test"}
    run = subprocess.run(
        [codex_bin, "exec", "--skip-git-repo-check", "run echo"],
        cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "echo onward-shell-ok" in out, out  # the shell call Codex ran
    assert "The command printed onward-shell-ok." in run.stdout  # the answer after its output
