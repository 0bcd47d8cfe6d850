"""One-hop SQLite writes for the hottest statement group: a finished inline response.

Through SQLAlchemy's aiosqlite adapter, `ResponseStore.save_new` (INSERT the response, INSERT
its items, COMMIT) takes eight round trips to aiosqlite's thread (cursor, execute, close,
cursor, executemany, close, commit, the pool's rollback), each a thread hop and a loop wake-up:
about half of what storing costs (the store was 17-33% of a stored response's CPU, measured
with bench/overhead/run.py --profile). Here the same statements, compiled from the same
tables, run as one function on one thread with its own stdlib `sqlite3` connection (the same
pragmas as `db.make_engine`): one hop.

Only for a database file; `:memory:` and URI filenames keep the SQLAlchemy path (a second
connection would not see the same database).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL

_DIALECT = sqlite_dialect.dialect(paramstyle="named")


def file_path(url: URL) -> str | None:
    """The database file of a SQLite URL, or None when it is not a plain file."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query:
        return None
    return database


class SqliteWriter:
    def __init__(self, path: str) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onward-sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._sql: dict[tuple[sa.Table, tuple[str, ...]], str] = {}

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:  # made on the writer thread, used only there
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    def insert_sql(self, table: sa.Table, keys: tuple[str, ...]) -> str:
        """`INSERT INTO table (keys…) VALUES (:key, …)`, compiled once per column set."""
        sql = self._sql.get((table, keys))
        if sql is None:
            sql = self._sql[(table, keys)] = str(table.insert().compile(dialect=_DIALECT, column_keys=list(keys)))
        return sql

    async def insert(self, groups: list[tuple[sa.Table, list[dict[str, Any]]]]) -> None:
        """INSERT each group's rows (dicts with the same keys) in one transaction."""
        statements = [(self.insert_sql(table, tuple(rows[0])), rows) for table, rows in groups if rows]

        def run() -> None:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, rows in statements:
                    if len(rows) == 1:
                        conn.execute(sql, rows[0])
                    else:
                        conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await asyncio.get_running_loop().run_in_executor(self._pool, run)

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._pool.submit(shut)
        self._pool.shutdown(wait=True)
