"""Shared fixtures: real `onward serve` processes (SQLite and PostgreSQL), a real upstream."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("ONWARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

SCRIPT = """
[models.scripted]
provider = "scripted"
script = [
  { match = "slowly", text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty", delay = 0.15 },
  { match = "both cities", tool_calls = [{ name = "get_weather", arguments = { city = "Paris" } }, { name = "get_weather", arguments = { city = "Oslo" } }] },
  { match = "weather", tool_calls = [{ name = "get_weather", arguments = { city = "Paris" } }] },
  { match = "22C", text = "It is 22C in Paris." },
  { match = "Passages found", text = "Employees get 25 vacation days per year, according to the handbook." },
  { match = "No relevant passages", text = "I could not find that in the files." },
  { match = "handbook", tool_calls = [{ name = "file_search", arguments = { query = "vacation days" } }] },
  { match = "upstream down", error = { code = "upstream_error", message = "upstream said 503", status = 502 } },
  { match = "json please", text = '{"name": "Ada", "age": 36}' },
  { text = "Hello from the script." },
]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


class Server:
    """A real `onward serve` process on a free port."""

    def __init__(self, tmp: Path, database_url: str, models_toml: str | None, env: dict[str, str] | None = None, workers: int = 1):
        """`models_toml=None`: no models file, as a newcomer runs it (the embedded model).
        `workers`: `onward serve --workers N` (N processes on one port)."""
        self.tmp = tmp
        self.workers = workers
        self.database_url = database_url
        self.models = tmp / "models.toml" if models_toml is not None else None
        if self.models is not None:
            self.models.write_text(models_toml or "")
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Server:
        self.port = free_port()
        env = {**os.environ, "ONWARD_DATA_DIR": str(self.tmp), "ONWARD_LEASE_SECONDS": "3", **self.env}
        self.log = open(self.tmp / f"server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "onward.cli", "serve", "--port", str(self.port), "--db", self.database_url,
                *(["--models", str(self.models)] if self.models else []), *(["--workers", str(self.workers)] if self.workers > 1 else []),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_http(f"http://127.0.0.1:{self.port}/health", proc=self.proc)
        if self.workers > 1:  # every process serves once the ready line is out
            self.wait_log("Onward ready")
        return self

    def log_text(self) -> str:
        self.log.flush()
        return (self.tmp / f"server-{self.port}.log").read_text(errors="replace")

    def wait_log(self, needle: str, timeout: float = 60.0) -> str:
        """The server's output once it contains `needle`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log_text()
            if needle in text:
                return text
            time.sleep(0.1)
        raise TimeoutError(f"{needle!r} not in the server's output:\n{self.log_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        """The pids of the `--workers` processes now (not multiprocessing's resource tracker)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        pids = []
        for child in children:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    pids.append(int(child))
        return sorted(pids)

    def served_by(self, request_id: str) -> int:
        """The pid in the access-log line of `request_id` (written when the request ends)."""
        import re

        line = self.wait_log(f" {request_id}\n")
        return int(re.findall(rf"\[(\d+)\] INFO onward\.access: .* {re.escape(request_id)}$", line, re.M)[-1])

    def client_on(self, pid: int, **kw):
        """An OpenAI client whose one keep-alive connection is served by worker `pid`
        (see http_on)."""
        return self.client(http_client=self.http_on(pid), **kw)

    def http_on(self, pid: int) -> httpx.Client:
        """An httpx client whose one keep-alive connection is served by worker `pid`: the
        other workers are paused (SIGSTOP) while it connects, so the kernel hands the
        connection to `pid`. Use it at once: uvicorn closes an idle connection after 5 s.
        A pause stays short (uvicorn's parent kills a child silent for 5 s): if `pid` is not
        accepting yet (still starting), the others resume and it tries again."""
        deadline = time.time() + 60
        while True:
            others = [p for p in self.worker_pids() if p != pid]
            http = httpx.Client(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1), timeout=60)
            for other in others:
                os.kill(other, signal.SIGSTOP)
            try:
                rid = http.get(f"{self.url}/models", timeout=1.5).headers["x-request-id"]
                break
            except httpx.TimeoutException:
                http.close()
                if time.time() > deadline:
                    raise
            finally:
                for other in others:
                    os.kill(other, signal.SIGCONT)
            time.sleep(0.5)
        assert self.served_by(rid) == pid
        return http

    def client(self, **kw):
        from openai import OpenAI

        return OpenAI(base_url=self.url, api_key=kw.pop("api_key", "sk-test"), max_retries=kw.pop("max_retries", 0), **kw)

    def async_client(self, **kw):
        from openai import AsyncOpenAI

        return AsyncOpenAI(base_url=self.url, api_key=kw.pop("api_key", "sk-test"), max_retries=kw.pop("max_retries", 0), **kw)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def new_pg_database(prefix: str = "onward_test"):
    """The URL of a new, empty PostgreSQL database, dropped on exit."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    with new_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def llama_upstream(tmp_path_factory):
    """llama-cpp-python's own OpenAI-compatible server running the same model file: a real
    Chat Completions upstream."""
    from onward.providers.local import default_model_path

    port = free_port()
    log = open(tmp_path_factory.mktemp("upstream") / "llama-server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llama_server", "--model", default_model_path(), "--port", str(port), "--host", "127.0.0.1", "--n_ctx", "4096", "--model_alias", "smollm2-upstream"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/v1/models", proc=proc)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(10)


def models_toml(upstream_url: str | None = None) -> str:
    toml = 'default = "smollm2"\n[models.smollm2]\nprovider = "local"\naliases = ["smollm2-135m-instruct"]\n' + SCRIPT
    # A small window, so truncation tests keep a short prompt (prompt processing is ~100 tokens/s here).
    toml += '\n[models.smollm2-1k]\nprovider = "local"\ncontext_window = 1024\n'
    # A scripted model with a tiny window (tokens = words): long histories are read from their tail.
    toml += '\n[models.scripted-300]\nprovider = "scripted"\ncontext_window = 300\nscript = [{ text = "From the tail." }]\n'
    if upstream_url:
        toml += f'\n[models.upstream]\nprovider = "chat_completions"\nbase_url = "{upstream_url}"\nupstream_model = "smollm2-upstream"\ncontext_window = 4096\njson_schema_style = "json_object_schema"\n'
    return toml


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request, tmp_path_factory, llama_upstream):
    """One live server per database engine, shared by the tests of a session."""
    tmp = tmp_path_factory.mktemp(f"server-{request.param}")
    url = f"sqlite:///{tmp / 'onward.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    srv = Server(tmp, url, models_toml(llama_upstream)).start()
    srv.kind = request.param
    yield srv
    srv.stop()
