"""Persistence for runs (durable background jobs), their steps and their stream events."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..store.conversations import append_items
from ..store.db import is_sqlite
from ..store.models import (
    assistant_run_events,
    assistant_run_steps,
    assistant_runs,
    conversation_items,
    conversations,
)
from .paging import keyset_page
from .store import dump, insert_message_fields

ACTIVE = ("queued", "in_progress", "requires_action", "cancelling")
TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")

runs = assistant_runs
steps = assistant_run_steps
events = assistant_run_events


class RunStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine)

    # -- runs -------------------------------------------------------------------------
    async def create(
        self,
        body: dict[str, Any],
        request: dict[str, Any],
        first_events: list[tuple[int, str, bytes]],
        *,
        owner: str | None = None,
        lease_seconds: float = 0.0,
        lock_seconds: float | None = None,
    ) -> bool | None:
        """Insert a queued run with its first events; with `owner`, already claimed by it. With
        `lock_seconds`, first lock its thread for it (as ConversationStore.lock does; a short
        lock the caller took for this run is extended): None if there is no such thread, False
        if it is busy (nothing is written then)."""
        now = time.time()
        async with self.engine.begin() as conn:
            if lock_seconds is not None:
                c = conversations.c
                thread_id = body["thread_id"]
                result = await conn.execute(
                    conversations.update()
                    .where((c.id == thread_id) & c.deleted.is_(False) & (c.locked_by.is_(None) | (c.locked_until < now) | (c.locked_by == body["id"])))
                    .values(locked_by=body["id"], locked_until=now + lock_seconds)
                )
                if not result.rowcount:
                    exists = (await conn.execute(sa.select(c.id).where((c.id == thread_id) & c.deleted.is_(False)))).scalar()
                    return False if exists else None
            await conn.execute(
                runs.insert().values(
                    id=body["id"],
                    thread_id=body["thread_id"],
                    created_at=body["created_at"],
                    created_ns=time.time_ns(),
                    status=body["status"],
                    expires_at=body["expires_at"],
                    body=dump(body),
                    request=dump(request),
                    owner=owner,
                    lease_until=now + lease_seconds if owner else None,
                    cancel_requested=False,
                    updated_at=now,
                )
            )
            await self._append(conn, body["id"], first_events)
        return True

    async def get_row(self, run_id: str) -> sa.Row | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(runs).where(runs.c.id == run_id))).first()

    async def load(self, run_id: str) -> tuple[sa.Row | None, int]:
        """The run's row and its last event sequence number (-1: none), in one query."""
        last = sa.select(sa.func.max(events.c.seq)).where(events.c.run_id == run_id).scalar_subquery()
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(runs, last.label("last_seq")).where(runs.c.id == run_id))).first()
        if row is None:
            return None, -1
        return row, -1 if row.last_seq is None else int(row.last_seq)

    async def get(self, run_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            data = (await conn.execute(sa.select(runs.c.body).where(runs.c.id == run_id))).scalar()
        return orjson.loads(data) if data else None

    async def save(
        self,
        body: dict[str, Any],
        *,
        when: tuple[str, ...] | None = None,
        request: dict[str, Any] | None = None,
        new_events: list[tuple[int, str, bytes]] | None = None,
        steps_first: Sequence[dict[str, Any]] = (),
        message_fields: tuple[str, list[dict[str, Any]]] | None = None,
        fresh_metadata: bool = False,
        more_events: Callable[[], list[tuple[int, str, bytes]]] | None = None,
        steps_after: Sequence[dict[str, Any]] = (),
        thread_items: tuple[str, list[dict[str, Any]], list[dict[str, Any]]] | None = None,
        unlock: str | None = None,
        **cols: Any,
    ) -> bool:
        """Write the run object (and optionally events) in one transaction. With `when`, only
        if the stored status is one of those (a compare-and-set against racing writers).

        In the same transaction: `message_fields` (thread_id, rows) and `steps_first` are
        written whether or not the compare-and-set succeeds; `fresh_metadata` takes the stored
        run's metadata (modified while the caller held its copy) before `more_events()` builds
        the last events; `steps_after`, `thread_items` (thread_id, items, their message
        fields: a cut-short run's partial messages, kept `incomplete`) and releasing the thread
        (`unlock`: its thread_id) only when the run was written."""
        where = runs.c.id == body["id"]
        if when is not None:
            where = where & runs.c.status.in_(when)
        async with self.engine.begin() as conn:
            if message_fields is not None:
                await insert_message_fields(conn, *message_fields)
            for step in steps_first:
                await self._upsert_step(conn, step)
            if fresh_metadata:
                stored = (await conn.execute(sa.select(runs.c.body).where(runs.c.id == body["id"]))).scalar()
                if stored:
                    body["metadata"] = orjson.loads(stored)["metadata"]
            batch = list(new_events or [])
            if more_events is not None:
                batch += more_events()
            values: dict[str, Any] = {"status": body["status"], "expires_at": body.get("expires_at"), "body": dump(body), "updated_at": time.time(), **cols}
            if request is not None:
                values["request"] = dump(request)
            result = await conn.execute(runs.update().where(where).values(**values))
            if not result.rowcount:
                return False  # what came before is still committed
            await self._append(conn, body["id"], batch)
            for step in steps_after:
                await self._upsert_step(conn, step)
            if thread_items is not None:
                await _append_items(conn, *thread_items)
            if unlock is not None:
                c = conversations.c
                await conn.execute(conversations.update().where((c.id == unlock) & (c.locked_by == body["id"])).values(locked_by=None, locked_until=None))
        return True

    async def list_runs(self, thread_id: str, **paging: Any) -> tuple[list[dict[str, Any]], bool]:
        async with self.engine.connect() as conn:
            rows, more = await keyset_page(conn, runs, runs.c.thread_id == thread_id, **paging)
        return [orjson.loads(r.body) for r in rows], more

    async def active_run(self, thread_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(sa.select(runs.c.id).where((runs.c.thread_id == thread_id) & runs.c.status.in_(ACTIVE)).limit(1))
            ).scalar()

    # -- background work --------------------------------------------------------------
    async def claim_queued(self, owner: str, lease_seconds: float) -> str | None:
        now = time.time()
        async with self.engine.begin() as conn:
            pick = sa.select(runs.c.id).where((runs.c.status == "queued") & runs.c.owner.is_(None)).order_by(runs.c.created_ns).limit(1)
            if not self.sqlite:
                pick = pick.with_for_update(skip_locked=True)
            run_id = (await conn.execute(pick)).scalar()
            if run_id is None:
                return None
            result = await conn.execute(
                runs.update()
                .where((runs.c.id == run_id) & runs.c.owner.is_(None) & (runs.c.status == "queued"))
                .values(owner=owner, lease_until=now + lease_seconds, updated_at=now)
            )
            return run_id if result.rowcount else None

    async def renew(self, owner: str, ids: list[str], lease_seconds: float) -> None:
        if not ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(runs.update().where(runs.c.id.in_(ids) & (runs.c.owner == owner)).values(lease_until=time.time() + lease_seconds))

    async def orphaned(self) -> list[sa.Row]:
        c = runs.c
        async with self.engine.connect() as conn:
            return list(
                await conn.execute(sa.select(c.id, c.status, c.owner).where(c.owner.is_not(None) & (c.lease_until < time.time())))
            )

    async def release(self, run_id: str, owner: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(runs.update().where((runs.c.id == run_id) & (runs.c.owner == owner)).values(owner=None, lease_until=None))
        return bool(result.rowcount)

    async def overdue(self, owner: str) -> list[str]:
        """Active runs past expires_at that nobody else is executing."""
        c = runs.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(c.id).where(c.status.in_(ACTIVE) & (c.expires_at < int(time.time())) & (c.owner.is_(None) | (c.owner == owner)))
            )
            return [r[0] for r in rows]

    async def status(self, run_id: str) -> str | None:
        """The stored status alone (a worker's cheap check for a cancel recorded elsewhere)."""
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(runs.c.status).where(runs.c.id == run_id))).scalar()

    # -- steps ------------------------------------------------------------------------
    @staticmethod
    async def _upsert_step(conn: Any, step: dict[str, Any]) -> None:
        data = dump(step)
        result = await conn.execute(steps.update().where(steps.c.id == step["id"]).values(body=data))
        if not result.rowcount:
            await conn.execute(steps.insert().values(id=step["id"], run_id=step["run_id"], created_ns=time.time_ns(), body=data))

    async def get_step(self, run_id: str, step_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            data = (await conn.execute(sa.select(steps.c.body).where((steps.c.id == step_id) & (steps.c.run_id == run_id)))).scalar()
        return orjson.loads(data) if data else None

    async def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(steps.c.body).where(steps.c.run_id == run_id).order_by(steps.c.created_ns, steps.c.id))
            return [orjson.loads(r[0]) for r in rows]

    async def list_steps(self, run_id: str, **paging: Any) -> tuple[list[dict[str, Any]], bool]:
        async with self.engine.connect() as conn:
            rows, more = await keyset_page(conn, steps, steps.c.run_id == run_id, **paging)
        return [orjson.loads(r.body) for r in rows], more

    # -- events -----------------------------------------------------------------------
    async def _append(self, conn: Any, run_id: str, batch: list[tuple[int, str, bytes]]) -> None:
        if batch:
            await conn.execute(events.insert(), [{"run_id": run_id, "seq": seq, "event": name, "data": data.decode()} for seq, name, data in batch])

    async def append_events(self, run_id: str, batch: list[tuple[int, str, bytes]], steps: Sequence[dict[str, Any]] = ()) -> None:
        """A running worker's progress, in one transaction: its new events and the steps they
        opened or changed (so both survive a crash of the process)."""
        if batch or steps:
            async with self.engine.begin() as conn:
                for step in steps:
                    await self._upsert_step(conn, step)
                await self._append(conn, run_id, batch)

    async def read_events(self, run_id: str, after: int) -> list[tuple[int, str, str]]:
        c = events.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(c.seq, c.event, c.data).where((c.run_id == run_id) & (c.seq > after)).order_by(c.seq))
            return [(r[0], r[1], r[2]) for r in rows]

    async def last_seq(self, run_id: str) -> int:
        async with self.engine.connect() as conn:
            value = (await conn.execute(sa.select(sa.func.max(events.c.seq)).where(events.c.run_id == run_id))).scalar()
        return -1 if value is None else int(value)


async def _append_items(conn: Any, thread_id: str, items: list[dict[str, Any]], fields: list[dict[str, Any]]) -> None:
    """Add items at the thread's end inside the caller's transaction (ConversationStore's own
    `append_items`: positions, token estimates), skipping any already there, with their
    messages' Assistants fields."""
    if not items:
        return
    c = conversation_items.c
    ids = [item["id"] for item in items]
    present = set((await conn.execute(sa.select(c.item_id).where((c.conversation_id == thread_id) & c.item_id.in_(ids)))).scalars())
    fields = [f for f in fields if f["message_id"] not in present]
    if not await append_items(conn, thread_id, [item for item in items if item["id"] not in present]):
        return  # the thread is gone
    await insert_message_fields(conn, thread_id, fields)
