"""Cross-process wake-ups on PostgreSQL (LISTEN/NOTIFY): a process writing a background
response's events notifies; a process streaming that response to a client wakes at once
instead of waiting for its next poll. SQLite serves one process, so it needs none."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from .db import is_sqlite

CHANNEL = "onward_response_events"
log = logging.getLogger("onward.notify")


class Notifier:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.enabled = not is_sqlite(engine)
        self._conn: Any = None
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    async def start(self) -> None:
        if not self.enabled:
            return
        import asyncpg

        url = self.engine.url.set(drivername="postgresql")
        try:
            self._conn = await asyncpg.connect(url.render_as_string(hide_password=False))
            await self._conn.add_listener(CHANNEL, self._on_notify)
        except Exception:  # polling still works; say why it is slower
            log.warning("LISTEN on %s failed; cross-process streams fall back to polling", CHANNEL, exc_info=True)
            self._conn = None

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        for event in self._waiters.get(payload, ()):
            event.set()

    async def wait(self, key: str, seconds: float) -> None:
        """Until `key` is notified or `seconds` pass (the caller re-reads the store either way)."""
        event = asyncio.Event()
        self._waiters[key].add(event)
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            self._waiters[key].discard(event)
            if not self._waiters[key]:
                del self._waiters[key]
