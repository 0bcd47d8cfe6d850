"""`onward serve --workers N`: N server processes sharing one listening socket.

uvicorn's own process manager (`Multiprocess`) runs them: it starts each child with the spawn
method, passes it the socket the parent bound, restarts a child that dies, and on SIGINT or
SIGTERM stops them all. A child builds its app from the environment (`app.worker_app`), so the
parent writes every setting it resolved (command-line options included) into ONWARD_*
variables first. What crosses processes (background jobs, streams, resumption, cancels)
already does so through PostgreSQL, exactly as between separate machines.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import tempfile
from typing import Any

import typer
from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

from .config import Settings

log = logging.getLogger("onward.processes")
PR_SET_PDEATHSIG = 1  # linux/prctl.h
SUPERVISOR_PID = "_ONWARD_SUPERVISOR_PID"  # internal: how a child knows its parent is still the one it had


class Supervisor(Multiprocess):
    """uvicorn's process manager, which also prints the ready line once every child serves
    (checked on its own loop, every 0.5 s, through the same health-check pipe it pings)."""

    def __init__(self, config: Config, sockets: list[socket.socket], ready: str) -> None:
        super().__init__(config, sockets)
        self.ready = ready
        self.announced = False

    def keep_subprocess_alive(self) -> None:
        before = {p.pid: p for p in self.processes}
        super().keep_subprocess_alive()
        if not self.should_exit.is_set():  # uvicorn says this at INFO only: a crash deserves a warning
            for pid, gone in before.items():
                if pid not in {p.pid for p in self.processes}:
                    log.warning("server process %s died (exit code %s); a new one replaces it", pid, gone.exitcode)
                    if pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                        from prometheus_client.multiprocess import mark_process_dead

                        mark_process_dead(pid)  # its running-jobs gauge no longer counts
        if not self.announced and not self.should_exit.is_set() and all(p.is_ready(timeout=1) for p in self.processes):
            self.announced = True
            typer.echo(self.ready, err=True)

    @property
    def failed(self) -> bool:
        """A child could not start (its app's startup failed): the parent stopped them all."""
        return any(p.exitcode == STARTUP_FAILURE for p in self.processes)


def child_environment(settings: Settings, port: int, log_level: str) -> dict[str, str]:
    """The ONWARD_* variables that give a child the parent's resolved settings."""
    env = {
        "ONWARD_HOST": settings.host,
        "ONWARD_PORT": str(port),
        "ONWARD_DATABASE_URL": settings.database_url,
        "ONWARD_DATA_DIR": str(settings.data_dir),
        "ONWARD_BACKGROUND_JOBS": str(settings.background_jobs),
        "ONWARD_LOG_LEVEL": log_level,
    }
    if settings.models_file:
        env["ONWARD_MODELS_FILE"] = str(settings.models_file)
    return env


def serve_processes(settings: Settings, port: int, log_level: str, sock: socket.socket, ready: str, options: dict[str, Any]) -> bool:
    """Run `settings.processes` children on `sock` until SIGINT/SIGTERM; False if one of them
    failed to start (it logged why)."""
    os.environ.update(child_environment(settings, port, log_level))
    os.environ.pop("ONWARD_WORKERS", None)  # its deprecation was logged here, once
    os.environ[SUPERVISOR_PID] = str(os.getpid())
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # /metrics sums every process (api/metrics.py)
        metrics_dir = tempfile.mkdtemp(prefix="onward-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    config = Config("onward.app:worker_app", factory=True, workers=settings.processes, **options)
    supervisor = Supervisor(config, [sock], ready)
    try:
        supervisor.run()
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return not supervisor.failed


def die_with_parent() -> None:
    """In a child: be sent SIGTERM when the parent dies, even by SIGKILL, so that no orphan
    keeps serving the port (Linux; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.environ.get(SUPERVISOR_PID) not in (None, str(os.getppid())):  # the parent died before prctl
        os.kill(os.getpid(), signal.SIGTERM)
