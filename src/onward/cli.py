"""The `onward` command: serve, migrate."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from .config import Settings
from .migrate.cli import app as migrate_app

app = typer.Typer(help="Onward: the Responses API and the Assistants API v2 on any model.", no_args_is_help=True, rich_markup_mode="markdown")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket before anything loads, so a taken port fails at once with one
    line (uvicorn would first run the app's startup, then print a traceback-like log)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise _fail(f"port {port} is in use on {host}: stop the other server or pass --port N (or set ONWARD_PORT)") from exc
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (check --host / ONWARD_HOST)") from exc
    sock.set_inheritable(True)
    return sock


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"onward: {message}", err=True)
    return typer.Exit(code)


def _raise_open_files() -> None:
    """Lift the soft limit on open files to the hard one (as Go's runtime and nginx do): every
    open stream holds two sockets, the client's and the upstream's, so a soft limit of 1,024
    (a common default) would cap a process near 500 streams."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _describe_models(settings: Settings) -> str:
    if not settings.models:
        return "models: the embedded smollm2 serves every model name (no models file)"
    names = ", ".join(r.name for r in settings.models)
    return f"models: {names} from {settings.models_file}"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (ONWARD_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ONWARD_PORT).")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", "--db", help="sqlite:///path or postgresql://… (ONWARD_DATABASE_URL).")] = None,
    models: Annotated[Path | None, typer.Option("--models", help="TOML file of model routes (ONWARD_MODELS_FILE).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the default SQLite file and stored bytes live (ONWARD_DATA_DIR).")] = None,
    log_level: Annotated[str, typer.Option(envvar="ONWARD_LOG_LEVEL", help="debug, info (one access-log line per request), warning (ONWARD_LOG_LEVEL)")] = "info",
    workers: Annotated[int | None, typer.Option("--workers", help="Server processes sharing the port (ONWARD_PROCESSES; default 1). More than 1 needs PostgreSQL.")] = None,
) -> None:
    """Serve the API (default http://127.0.0.1:8000/v1) on the embedded model unless a models file says otherwise.

    Prints one line, `Onward ready on http://…/v1`, once the port listens (with --workers N,
    once every process serves); exits 1 with one line if the port is taken, 2 for a bad
    setting, 3 if the app cannot start."""
    import uvicorn

    from .app import create_app, setup_logging

    setup_logging(log_level)  # before the settings: a deprecated name is warned about in the log
    try:
        settings = Settings.from_env(host=host, port=port, database_url=database_url, models_file=models, data_dir=data_dir, processes=workers)
    except (ValueError, OSError) as exc:  # a bad number, a missing or malformed models file
        raise _fail(f"bad setting: {exc}", 2) from exc
    if settings.processes < 1:
        raise _fail(f"bad setting: --workers (ONWARD_PROCESSES) must be at least 1, got {settings.processes}", 2)
    if settings.processes > 1 and not settings.database_url.startswith(("postgres://", "postgresql")):
        # A SQLite database belongs to one process: its writes are serialized by a lock inside
        # the process, and a finished response is written just after its reply (reads wait on
        # it in that process only); see docs/deployment.md.
        raise _fail(f"--workers {settings.processes} needs PostgreSQL (--db postgresql://… or ONWARD_DATABASE_URL): a SQLite database serves one process", 2)
    if not settings.api_keys and not _loopback(settings.host) and os.environ.get("ONWARD_ALLOW_NO_AUTH") != "1":
        typer.echo(
            f"Refusing to serve on {settings.host} with no API keys: anyone on the network could use it.\n"
            "Set ONWARD_API_KEYS=key1,key2 (or ONWARD_ALLOW_NO_AUTH=1 if a proxy in front authenticates).",
            err=True,
        )
        raise typer.Exit(2)
    _raise_open_files()  # children inherit it
    sock = _bind(settings.host, settings.port)
    bound_port = sock.getsockname()[1]  # --port 0 picks a free one
    if settings.database_url.startswith(("postgres://", "postgresql")):
        from .store.db import DatabaseUnavailable, ensure_database

        try:
            if asyncio.run(ensure_database(settings.database_url)):
                typer.echo(f"Created the PostgreSQL database {settings.database_url.rsplit('/', 1)[-1].split('?')[0]!r}.", err=True)
        except DatabaseUnavailable as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    processes = f"; {settings.processes} processes" if settings.processes > 1 else ""
    ready = f"Onward ready on http://{shown_host}:{bound_port}/v1  (database: {settings.database_url.split('@')[-1]}; {_describe_models(settings)}{processes})"

    uvicorn_options: dict = {
        "log_level": "warning" if log_level == "info" else log_level,
        "access_log": False,  # onward.access logs each request (api/access_log.py)
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets-sansio",
        "timeout_graceful_shutdown": 5,
    }
    if settings.processes > 1:
        from .processes import serve_processes

        if not serve_processes(settings, bound_port, log_level, sock, ready, uvicorn_options):
            raise typer.Exit(3)  # a process's startup failed; it logged why
        return

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # the app's startup ran and the socket listens
                typer.echo(ready, err=True)

    server = Server(uvicorn.Config(create_app(settings), **uvicorn_options))
    server.run(sockets=[sock])
    if not server.started:  # the app's startup failed; uvicorn logged why
        raise typer.Exit(3)


app.add_typer(migrate_app, name="migrate")


@app.command()
def version() -> None:
    """Print the version."""
    from . import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
