"""The `onward` command: serve (and, later, migrate and keys)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from .config import Settings

app = typer.Typer(help="Onward: the Responses API and the Assistants API v2 on any model.", no_args_is_help=True)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (ONWARD_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ONWARD_PORT).")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", "--db", help="sqlite:///path or postgresql://… (ONWARD_DATABASE_URL).")] = None,
    models: Annotated[Path | None, typer.Option("--models", help="TOML file of model routes (ONWARD_MODELS_FILE).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the default SQLite file and stored bytes live (ONWARD_DATA_DIR).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Serve the API (default http://127.0.0.1:8000/v1) on the embedded model unless a models file says otherwise."""
    import uvicorn

    from .app import create_app

    settings = Settings.from_env(host=host, port=port, database_url=database_url, models_file=models, data_dir=data_dir)
    if not settings.api_keys and not _loopback(settings.host) and os.environ.get("ONWARD_ALLOW_NO_AUTH") != "1":
        typer.echo(
            f"Refusing to serve on {settings.host} with no API keys: anyone on the network could use it.\n"
            "Set ONWARD_API_KEYS=key1,key2 (or ONWARD_ALLOW_NO_AUTH=1 if a proxy in front authenticates).",
            err=True,
        )
        raise typer.Exit(2)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.database_url.startswith(("postgres://", "postgresql")):
        from .store.db import DatabaseUnavailable, ensure_database

        try:
            if asyncio.run(ensure_database(settings.database_url)):
                typer.echo(f"Created the PostgreSQL database {settings.database_url.rsplit('/', 1)[-1].split('?')[0]!r}.", err=True)
        except DatabaseUnavailable as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    typer.echo(f"Onward on http://{settings.host}:{settings.port}/v1  (database: {settings.database_url.split('@')[-1]})", err=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning" if log_level == "info" else log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        timeout_graceful_shutdown=5,
    )


@app.command()
def version() -> None:
    """Print the version."""
    from . import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
