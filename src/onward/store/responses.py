"""Responses, their input/output items and their stored stream events."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .conversations import Page
from .db import is_sqlite
from .items import estimate_tokens
from .models import response_events, response_items, responses
from .notify import CHANNEL as NOTIFY_CHANNEL
from .sqlite_writer import SqliteWriter, file_path

TERMINAL = ("completed", "failed", "cancelled", "incomplete")


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def _row(body: dict[str, Any], request: dict[str, Any], *, owner: str | None = None, lease_until: float | None = None, tokens: int = 0) -> dict[str, Any]:
    return {
        "tokens": tokens,
        "id": body["id"],
        "created_at": body["created_at"],
        "status": body["status"],
        "model": body["model"],
        "background": bool(body.get("background")),
        "store": bool(body.get("store", True)),
        "previous_response_id": body.get("previous_response_id"),
        "conversation_id": (body.get("conversation") or {}).get("id"),
        "request": _dump(request),
        "body": _dump(body),
        "owner": owner,
        "lease_until": lease_until,
        "cancel_requested": False,
        "updated_at": time.time(),
    }


def _item_rows(response_id: str, kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for i, item in enumerate(items):
        data = _dump(item)
        rows.append({"response_id": response_id, "kind": kind, "position": i, "item_id": item.get("id") or "", "data": data, "tokens": estimate_tokens(data)})
    return rows


def _tokens(rows: list[dict[str, Any]]) -> int:
    return sum(r["tokens"] for r in rows)


@functools.cache
def _chain_tail_query() -> sa.Select:
    """ResponseStore.chain_tail's statement (built once: bound by :response_id, :budget)."""
    r = responses.c
    chain = sa.select(
        r.id, r.previous_response_id, sa.literal(0).label("depth"), sa.func.coalesce(r.tokens, 0).label("acc")
    ).where(r.id == sa.bindparam("response_id")).cte("chain", recursive=True)
    parent = sa.select(
        r.id, r.previous_response_id, (chain.c.depth + 1).label("depth"), (chain.c.acc + sa.func.coalesce(r.tokens, 0)).label("acc")
    ).join(chain, r.id == chain.c.previous_response_id).where(chain.c.acc < sa.bindparam("budget"))
    chain = chain.union_all(parent)
    return (
        sa.select(chain.c.depth, chain.c.previous_response_id, chain.c.acc, response_items.c.data)
        .select_from(chain.outerjoin(response_items, response_items.c.response_id == chain.c.id))
        .order_by(chain.c.depth.desc(), response_items.c.kind, response_items.c.position)
    )


class ResponseStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine)
        # SQLite has one writer; queueing writers here is far cheaper than letting them
        # spin in SQLite's busy handler.
        self._write_lock = asyncio.Lock() if self.sqlite else None
        path = file_path(engine.url) if self.sqlite else None
        self._writer = SqliteWriter(path) if path else None

    @contextlib.asynccontextmanager
    async def _writing(self):
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    async def save_new(
        self, body: dict[str, Any], request: dict[str, Any], input_items: list[dict[str, Any]], output_items: list[dict[str, Any]]
    ) -> None:
        """A finished inline response, its input and its output, in one transaction."""
        items = _item_rows(body["id"], "input", input_items) + _item_rows(body["id"], "output", output_items)
        row = _row(body, request, tokens=_tokens(items))
        if self._writer is not None:  # SQLite file: one hop to its writer thread (sqlite_writer.py)
            assert self._write_lock is not None
            async with self._write_lock:
                await self._writer.insert([(responses, [row]), (response_items, items)])
            return
        async with self._writing() as conn:
            await conn.execute(responses.insert(), [row])
            if items:
                await conn.execute(response_items.insert(), items)

    # -- the response row -------------------------------------------------------------
    async def create(
        self,
        body: dict[str, Any],
        request: dict[str, Any],
        input_items: list[dict[str, Any]],
        *,
        owner: str | None = None,
        lease_until: float | None = None,
    ) -> None:
        """Insert a response and its input items in one transaction."""
        items = _item_rows(body["id"], "input", input_items)
        async with self._writing() as conn:
            await conn.execute(responses.insert(), [_row(body, request, owner=owner, lease_until=lease_until, tokens=_tokens(items))])
            if items:
                await conn.execute(response_items.insert(), items)

    async def finish(
        self, body: dict[str, Any], output_items: list[dict[str, Any]], events: list[tuple[int, bytes]] | None = None, *, unless_cancelled: bool = False
    ) -> bool:
        """Write the final object, its output items and its last events in one transaction;
        release the lease. Only a response that has not ended yet is finished (a late worker
        never overwrites a cancel or a recovery); with `unless_cancelled`, not one whose
        cancel was requested either. False when nothing was written."""
        c = responses.c
        where = (c.id == body["id"]) & c.status.not_in(TERMINAL)
        if unless_cancelled:
            where = where & c.cancel_requested.is_(False)
        items = _item_rows(body["id"], "output", output_items)
        async with self._writing() as conn:
            result = await conn.execute(
                responses.update()
                .where(where)
                .values(status=body["status"], body=_dump(body), owner=None, lease_until=None, updated_at=time.time(), tokens=sa.func.coalesce(c.tokens, 0) + _tokens(items))
            )
            if not result.rowcount:
                return False
            if items:
                await conn.execute(response_items.insert(), items)
            await self._insert_events(conn, body["id"], events or [])
            if body.get("background") and not self.sqlite:
                await conn.execute(sa.text("SELECT pg_notify(:channel, :id)"), {"channel": NOTIFY_CHANNEL, "id": body["id"]})
        return True

    async def save_body(self, body: dict[str, Any], events: list[tuple[int, bytes]] | None = None) -> bool:
        """Update a running response's object, with `events` in the same transaction; False
        (nothing written) when it has ended meanwhile (cancelled)."""
        async with self._writing() as conn:
            result = await conn.execute(
                responses.update()
                .where((responses.c.id == body["id"]) & responses.c.status.not_in(TERMINAL))
                .values(status=body["status"], body=_dump(body), updated_at=time.time())
            )
            if result.rowcount:
                await self._insert_events(conn, body["id"], events or [])
        return bool(result.rowcount)

    async def get(self, response_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(responses.c.body).where(responses.c.id == response_id))).first()
        return orjson.loads(row[0]) if row else None

    async def get_row(self, response_id: str) -> sa.Row | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(responses).where(responses.c.id == response_id))).first()

    async def delete(self, response_id: str) -> bool:
        async with self._writing() as conn:
            result = await conn.execute(responses.delete().where(responses.c.id == response_id))
            await conn.execute(response_items.delete().where(response_items.c.response_id == response_id))
            await conn.execute(response_events.delete().where(response_events.c.response_id == response_id))
        return bool(result.rowcount)

    # -- history ----------------------------------------------------------------------
    async def chain_items(self, response_id: str) -> list[dict[str, Any]] | None:
        """Every input and output item along a `previous_response_id` chain, oldest first.

        Two queries at any depth: a recursive CTE walks the chain, one range scan reads the
        items. Returns None when the response does not exist.
        """
        chain = sa.select(
            responses.c.id, responses.c.previous_response_id, sa.literal(0).label("depth")
        ).where(responses.c.id == response_id).cte("chain", recursive=True)
        parent = sa.select(
            responses.c.id, responses.c.previous_response_id, (chain.c.depth + 1).label("depth")
        ).join(chain, responses.c.id == chain.c.previous_response_id)
        chain = chain.union_all(parent)
        query = (
            sa.select(chain.c.depth, response_items.c.data)
            .select_from(chain.outerjoin(response_items, response_items.c.response_id == chain.c.id))
            .order_by(chain.c.depth.desc(), response_items.c.kind, response_items.c.position)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return None
        # kind sorts "input" before "output", which is the order the model saw them in.
        return [orjson.loads(data) for _depth, data in rows if data is not None]

    async def chain_tail(self, response_id: str, budget: int) -> Page | None:
        """The items of the newest responses along a `previous_response_id` chain, from
        `response_id` back until their stored token estimates (`responses.tokens`) add up to
        at least `budget`, oldest first (inputs before outputs, as the model saw them); `cursor`
        is the previous_response_id to continue from when `more`. None: no such response.

        One statement at any depth: a recursive CTE walks the chain and stops once the running
        sum reaches `budget`, joined to those responses' items. Rows without an
        estimate (written before migration 0009) count as 0, so such a chain is read whole."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_chain_tail_query(), {"response_id": response_id, "budget": budget})).all()
        if not rows:
            return None
        oldest = rows[0]  # the deepest response read: the walk stopped there
        more = oldest.previous_response_id is not None and oldest.acc >= budget
        return Page([orjson.loads(row.data) for row in rows if row.data is not None], more, oldest.previous_response_id if more else None)

    async def chain_holds(self, response_id: str, item_ids: list[str]) -> set[str]:
        """Which of `item_ids` some response along the chain ending at `response_id` holds
        (as input or output): a recursive CTE over the whole chain, the item_id index."""
        if not item_ids:
            return set()
        r = responses.c
        chain = sa.select(r.id, r.previous_response_id).where(r.id == response_id).cte("held_chain", recursive=True)
        chain = chain.union_all(sa.select(r.id, r.previous_response_id).join(chain, r.id == chain.c.previous_response_id))
        c = response_items.c
        query = sa.select(c.item_id).where(c.item_id.in_(item_ids) & c.response_id.in_(sa.select(chain.c.id)))
        async with self.engine.connect() as conn:
            return set((await conn.execute(query)).scalars())

    async def list_input_items(
        self, response_id: str, *, limit: int, order: str, after: str | None, before: str | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """A keyset page of a response's input items (by position)."""
        c = response_items.c
        base = (c.response_id == response_id) & (c.kind == "input")
        query = sa.select(c.position, c.data).where(base)
        async with self.engine.connect() as conn:
            for cursor, direction in ((after, "after"), (before, "before")):
                if not cursor:
                    continue
                pos = (await conn.execute(sa.select(c.position).where(base & (c.item_id == cursor)))).scalar()
                if pos is None:
                    continue
                forward = (direction == "after") == (order == "asc")
                query = query.where(c.position > pos if forward else c.position < pos)
            query = query.order_by(c.position.asc() if order == "asc" else c.position.desc()).limit(limit + 1)
            rows = (await conn.execute(query)).all()
        items = [orjson.loads(r.data) for r in rows[:limit]]
        return items, len(rows) > limit

    # -- stream events (background responses) -----------------------------------------
    async def append_events(self, response_id: str, events: list[tuple[int, bytes]]) -> None:
        """Store events (sequence number, JSON); they are sent to clients only after this."""
        if not events:
            return
        async with self._writing() as conn:
            await self._insert_events(conn, response_id, events)

    async def _insert_events(self, conn, response_id: str, events: list[tuple[int, bytes]]) -> None:
        if not events:
            return
        await conn.execute(
            response_events.insert(),
            [{"response_id": response_id, "sequence_number": seq, "data": data.decode()} for seq, data in events],
        )
        if not self.sqlite:  # delivered at commit, to whoever streams it elsewhere
            await conn.execute(sa.text("SELECT pg_notify(:channel, :id)"), {"channel": NOTIFY_CHANNEL, "id": response_id})

    async def status(self, response_id: str) -> str | None:
        """Just the status (polled while following a stream: the body is not needed)."""
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(responses.c.status).where(responses.c.id == response_id))).scalar()

    async def next_sequence(self, response_id: str) -> int:
        """The sequence number the response's next stored event takes."""
        c = response_events.c
        async with self.engine.connect() as conn:
            last = (await conn.execute(sa.select(sa.func.max(c.sequence_number)).where(c.response_id == response_id))).scalar()
        return 0 if last is None else last + 1

    async def read_events(self, response_id: str, after: int) -> list[tuple[int, str]]:
        c = response_events.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(c.sequence_number, c.data)
                .where((c.response_id == response_id) & (c.sequence_number > after))
                .order_by(c.sequence_number)
            )
            return [(r[0], r[1]) for r in rows]

    # -- background work --------------------------------------------------------------
    async def claim_queued(self, owner: str, lease_seconds: float) -> str | None:
        """Take the oldest queued background response; several processes may race for it."""
        now = time.time()
        async with self._writing() as conn:
            pick = (
                sa.select(responses.c.id)
                .where((responses.c.status == "queued") & (responses.c.owner.is_(None)))
                .order_by(responses.c.created_at)
                .limit(1)
            )
            if not self.sqlite:
                pick = pick.with_for_update(skip_locked=True)
            response_id = (await conn.execute(pick)).scalar()
            if response_id is None:
                return None
            result = await conn.execute(
                responses.update()
                .where((responses.c.id == response_id) & (responses.c.status == "queued") & (responses.c.owner.is_(None)))
                .values(owner=owner, lease_until=now + lease_seconds, updated_at=now)
            )
            return response_id if result.rowcount else None

    async def renew_leases(self, owner: str, ids: list[str], lease_seconds: float) -> None:
        if not ids:
            return
        async with self._writing() as conn:
            await conn.execute(
                responses.update()
                .where(responses.c.id.in_(ids) & (responses.c.owner == owner))
                .values(lease_until=time.time() + lease_seconds)
            )

    async def orphaned(self, now: float | None = None) -> list[sa.Row]:
        """Background responses whose worker stopped renewing its lease (a crash or kill)."""
        now = now or time.time()
        c = responses.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(c.id, c.status, c.owner, c.conversation_id, c.cancel_requested).where(
                    c.status.in_(("queued", "in_progress")) & c.owner.is_not(None) & (c.lease_until < now)
                )
            )
            return list(rows)

    async def release(self, response_id: str, owner: str) -> bool:
        """Give an orphaned job back to the queue (only if still held by `owner`)."""
        async with self._writing() as conn:
            result = await conn.execute(
                responses.update()
                .where((responses.c.id == response_id) & (responses.c.owner == owner))
                .values(owner=None, lease_until=None)
            )
        return bool(result.rowcount)

    async def request_cancel(self, response_id: str) -> bool:
        """Record a cancel durably; the worker running the response honours it at its next
        step. False when the response has already ended (nothing to cancel)."""
        async with self._writing() as conn:
            result = await conn.execute(
                responses.update()
                .where((responses.c.id == response_id) & responses.c.status.not_in(TERMINAL))
                .values(cancel_requested=True)
            )
        return bool(result.rowcount)

    async def cancel_queued(self, body: dict[str, Any]) -> bool:
        """End a queued response nobody has claimed as `cancelled` (compare-and-set: a worker
        claiming it at the same instant either finds it cancelled or wins, then sees the flag)."""
        c = responses.c
        async with self._writing() as conn:
            result = await conn.execute(
                responses.update()
                .where((c.id == body["id"]) & (c.status == "queued") & c.owner.is_(None))
                .values(status=body["status"], body=_dump(body), lease_until=None, updated_at=time.time())
            )
            if result.rowcount and not self.sqlite:
                await conn.execute(sa.text("SELECT pg_notify(:channel, :id)"), {"channel": NOTIFY_CHANNEL, "id": body["id"]})
        return bool(result.rowcount)

    async def cancel_requested(self, response_id: str) -> bool:
        async with self.engine.connect() as conn:
            return bool(
                (await conn.execute(sa.select(responses.c.cancel_requested).where(responses.c.id == response_id))).scalar()
            )

    async def queued_unclaimed(self) -> list[str]:
        """Ids of queued responses no worker holds yet (their conversation locks are kept alive)."""
        c = responses.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(c.id).where((c.status == "queued") & c.owner.is_(None) & c.conversation_id.is_not(None)))
            return [r[0] for r in rows]
