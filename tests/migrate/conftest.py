"""Servers and databases for the migration toolkit's end-to-end tests."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import Server, models_toml, new_pg_database


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_db(request, tmp_path):
    """An empty database URL of each engine (PostgreSQL: a new database, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.db'}"
        return
    with new_pg_database("onward_import") as url:
        yield url


@pytest.fixture
def serve(tmp_path):
    """Start `onward serve` on a database (embedded + scripted models); stopped after the test."""
    started: list[Server] = []

    def start(url: str, name: str = "server") -> Server:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        srv = Server(folder, url, models_toml()).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def onward(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `onward` CLI as a user would."""
    result = subprocess.run([sys.executable, "-m", "onward.cli", *args], capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"onward {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
