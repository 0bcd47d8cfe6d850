"""Several processes on one PostgreSQL database without shared file storage get a clear 409
naming the setting to fix (not a 500), the start says files are local, and `onward serve`
creates a missing PostgreSQL database or says exactly what to run."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import openai
import psycopg
import pytest

from tests.conftest import PG_URL, SCRIPT, Server, free_port

TOML = 'default = "scripted"\n' + SCRIPT


def test_bytes_on_another_machine_are_a_clear_409(tmp_path, pg_database):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    a = Server(tmp_path / "a", pg_database, TOML).start()
    b = Server(tmp_path / "b", pg_database, TOML).start()
    shared = Server(tmp_path / "a", pg_database, TOML).start()  # same data directory as `a`
    try:
        made = a.client().files.create(file=("notes.txt", b"Vacation: 25 days.\n"), purpose="assistants")
        assert a.client().files.content(made.id).content == b"Vacation: 25 days.\n"
        assert shared.client().files.content(made.id).content == b"Vacation: 25 days.\n"
        assert b.client().files.retrieve(made.id).id == made.id  # the row is shared, the bytes are not
        with pytest.raises(openai.ConflictError) as err:
            b.client().files.content(made.id)
        body = err.value.body
        assert body["code"] == "file_bytes_unavailable" and body["param"] == "file_id"
        assert made.id in body["message"] and "ONWARD_S3_BUCKET" in body["message"] and "ONWARD_DATA_DIR" in body["message"]

        # a vector store on the other process fails the file with the same explanation
        vs = b.client().vector_stores.create(name="elsewhere")
        vs_file = b.client().vector_stores.files.create_and_poll(vector_store_id=vs.id, file_id=made.id)
        assert vs_file.status == "failed" and vs_file.last_error.code == "invalid_file"
        assert "ONWARD_S3_BUCKET" in vs_file.last_error.message

        for server in (a, b):  # each start on PostgreSQL with local storage said so
            log = next(server.tmp.glob(f"server-{server.port}.log")).read_text()
            assert "Files are stored on this machine's local disk" in log
    finally:
        for server in (a, b, shared):
            server.stop()


def _serve(tmp_path, db_url: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (tmp_path / "models.toml").write_text(TOML)
    proc = subprocess.Popen(
        [sys.executable, "-m", "onward.cli", "serve", "--port", str(port), "--db", db_url, "--models", str(tmp_path / "models.toml"), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, port


def test_serve_creates_a_missing_postgres_database(tmp_path):
    import httpx

    name = f"onward_missing_{uuid.uuid4().hex[:8]}"
    base = PG_URL.rsplit("/", 1)[0]
    proc, port = _serve(tmp_path, f"{base}/{name}")
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer")
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert f"Created the PostgreSQL database '{name}'" in out


def test_serve_says_what_to_run_when_it_may_not_create_the_database(tmp_path):
    role = f"onward_nocreate_{uuid.uuid4().hex[:8]}"
    name = f"onward_missing_{uuid.uuid4().hex[:8]}"
    host_port = PG_URL.split("@", 1)[1].rsplit("/", 1)[0]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        proc, _port = _serve(tmp_path, f"postgresql://{role}@{host_port}/{name}")
        out = proc.communicate(timeout=60)[0]
        assert proc.returncode == 1
        assert "Traceback" not in out
        host, port = host_port.split(":")
        assert f"createdb -h {host} -p {port} -U {role} '{name}'" in out
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
