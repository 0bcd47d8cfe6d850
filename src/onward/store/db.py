"""Engine creation and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .sqlite_extensions import load_sqlite_vec

MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick the async drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and "+aiosqlite" not in url:
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be used; the message says what to do."""


async def ensure_database(url: str) -> bool:
    """Make sure the PostgreSQL database named in `url` exists: create it (through the
    `postgres` maintenance database) when it is missing and the user may. Returns True if it
    was created. Raises DatabaseUnavailable with the exact command to run when it cannot."""
    import asyncpg
    from sqlalchemy.engine import make_url

    target = make_url(normalize_url(url)).set(drivername="postgresql")
    where = f"{target.host or 'localhost'}:{target.port or 5432}"
    try:
        conn = await asyncpg.connect(target.render_as_string(hide_password=False))
    except asyncpg.InvalidCatalogNameError:
        pass
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"Cannot connect to PostgreSQL at {where} as {target.username!r}: {exc}. Check ONWARD_DATABASE_URL (--db).") from exc
    else:
        await conn.close()
        return False
    name = target.database or ""
    command = f"createdb -h {target.host or 'localhost'} -p {target.port or 5432}" + (f" -U {target.username}" if target.username else "") + f" '{name}'"
    for maintenance in ("postgres", "template1"):
        try:
            conn = await asyncpg.connect(target.set(database=maintenance).render_as_string(hide_password=False))
        except (OSError, asyncpg.PostgresError):
            continue
        try:
            quoted = '"' + name.replace('"', '""') + '"'
            await conn.execute(f"CREATE DATABASE {quoted}")
            return True
        except asyncpg.DuplicateDatabaseError:  # another process created it meanwhile
            return False
        except asyncpg.PostgresError as exc:
            raise DatabaseUnavailable(
                f"The PostgreSQL database {name!r} does not exist at {where}, and {target.username!r} may not create it ({exc}). "
                f"Create it as a user who may, then start again:\n  {command}"
            ) from exc
        finally:
            await conn.close()
    raise DatabaseUnavailable(
        f"The PostgreSQL database {name!r} does not exist at {where}, and Onward could not reach a maintenance database to create it. "
        f"Create it, then start again:\n  {command}"
    )


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> AsyncEngine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL lets readers run beside the one writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
            load_sqlite_vec(dbapi_conn)  # vector search (store/vector_index.py)

        return engine
    return create_async_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, json_serializer=lambda o: orjson.dumps(o).decode()
    )


def _alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade(connection: sa.Connection, url: str) -> None:
    from alembic import command

    cfg = _alembic_config(url)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision. Several processes may start at once on
    PostgreSQL: an advisory lock lets one migrate while the others wait."""
    async with engine.begin() as conn:
        if not is_sqlite(engine):
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(74737201)"))
        await conn.run_sync(_upgrade, str(engine.url))
