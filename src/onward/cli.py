"""The `onward` command: serve, migrate."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
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
    log_level: Annotated[str, typer.Option(help="debug, info (one access-log line per request), warning")] = "info",
) -> None:
    """Serve the API (default http://127.0.0.1:8000/v1) on the embedded model unless a models file says otherwise.

    Prints one line, `Onward ready on http://…/v1`, once the port listens; exits 1 with one
    line if the port is taken, 2 for a bad setting."""
    import uvicorn

    from .app import create_app

    try:
        settings = Settings.from_env(host=host, port=port, database_url=database_url, models_file=models, data_dir=data_dir)
    except (ValueError, OSError) as exc:  # a bad number, a missing or malformed models file
        raise _fail(f"bad setting: {exc}", 2) from exc
    if not settings.api_keys and not _loopback(settings.host) and os.environ.get("ONWARD_ALLOW_NO_AUTH") != "1":
        typer.echo(
            f"Refusing to serve on {settings.host} with no API keys: anyone on the network could use it.\n"
            "Set ONWARD_API_KEYS=key1,key2 (or ONWARD_ALLOW_NO_AUTH=1 if a proxy in front authenticates).",
            err=True,
        )
        raise typer.Exit(2)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level.lower() != "debug":  # schema migrations speak only when asked: the ready line is the news
        logging.getLogger("alembic").setLevel(logging.WARNING)
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
    ready = f"Onward ready on http://{shown_host}:{bound_port}/v1  (database: {settings.database_url.split('@')[-1]}; {_describe_models(settings)})"

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # the app's startup ran and the socket listens
                typer.echo(ready, err=True)

    config = uvicorn.Config(
        create_app(settings),
        log_level="warning" if log_level == "info" else log_level,
        access_log=False,  # onward.access logs each request (api/access_log.py)
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        timeout_graceful_shutdown=5,
    )
    server = Server(config)
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
