"""A background response's events on their way out: stored first, then sent.

A client must never see an event the database does not hold: after a crash (kill -9) the
recovery numbers its `response.failed` after the last stored event, so a client resuming with
`starting_after` always gets the response's end. One writer task stores whatever the model
produced while the previous write was in flight (batches grow with load, latency stays one
write), then publishes it to the in-process subscribers. The terminal event is held back and
written with the final status in one transaction (`ResponseStore.finish`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pydantic import BaseModel

from .events import encode

if TYPE_CHECKING:
    from ..store.responses import ResponseStore
    from .hub import Hub

TERMINAL_EVENTS = {"response.completed", "response.failed", "response.incomplete"}


class Outbox:
    def __init__(self, store: ResponseStore, hub: Hub, response_id: str) -> None:
        self.store = store
        self.hub = hub
        self.response_id = response_id
        self.final: list[tuple[int, bytes]] = []  # the terminal event, written by `finish`
        self._pending: list[tuple[int, bytes]] = []
        self._wake = asyncio.Event()
        self._closed = False
        # Never cancelled: a write is never interrupted mid-transaction.
        self._task = asyncio.create_task(self._write())

    def add(self, event: BaseModel) -> None:
        """Queue an event (synchronous: the model's producer never waits on the database)."""
        item = (event.sequence_number, encode(event))  # type: ignore[attr-defined]
        if event.type in TERMINAL_EVENTS:  # type: ignore[attr-defined]
            self.final.append(item)
        else:
            self._pending.append(item)
            self._wake.set()

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._pending:
                batch, self._pending = self._pending, []
                await self.store.append_events(self.response_id, batch)
                self.publish(batch)
            if self._closed and not self._pending:
                return

    async def drain(self) -> None:
        """Store and send everything but the terminal event; the writer then ends."""
        self._closed = True
        self._wake.set()
        await asyncio.shield(self._task)

    def publish(self, stored: list[tuple[int, bytes]]) -> None:
        """Send events the caller has just stored itself."""
        for seq, data in stored:
            self.hub.publish(self.response_id, seq, data)

    def publish_final(self) -> None:
        """After `finish` stored the terminal event: send it."""
        self.publish(self.final)
