"""Conversations: durable, ordered lists of items keyed by (conversation, position).

Each item row carries `tokens` (items.estimate_tokens, written with it) and `total_tokens`, the
running sum of `tokens` over the conversation up to that item; `conversations.total_tokens` is
the sum so far. A model request reads the history from its tail (`tail`) only as far as these
say a model's window can reach (migration 0009).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .items import estimate_tokens
from .models import conversation_items, conversations


@dataclass
class Page:
    """A slice of a history read from its end: `items` oldest first; `more` when older items
    exist; `cursor`, where the next (older) page starts reading."""

    items: list[dict[str, Any]]
    more: bool
    cursor: Any = None


class DuplicateItem(Exception):
    """An item id the conversation already holds (ids are unique per conversation)."""

    def __init__(self, item_id: str) -> None:
        super().__init__(item_id)
        self.item_id = item_id


class ConversationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, conv_id: str, metadata: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
        now = int(time.time())
        rows = item_rows(conv_id, items, 0, 0, now)
        async with self.engine.begin() as conn:
            await conn.execute(
                conversations.insert().values(
                    id=conv_id, created_at=now, metadata=orjson.dumps(metadata).decode(), next_position=len(items), deleted=False,
                    total_tokens=rows[-1]["total_tokens"] if rows else 0,
                )
            )
            if rows:
                await conn.execute(conversation_items.insert(), rows)
        return {"id": conv_id, "object": "conversation", "created_at": now, "metadata": metadata}

    async def get(self, conv_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(conversations.c.id, conversations.c.created_at, conversations.c.metadata).where(
                        (conversations.c.id == conv_id) & (conversations.c.deleted.is_(False))
                    )
                )
            ).first()
        if row is None:
            return None
        return {"id": row.id, "object": "conversation", "created_at": row.created_at, "metadata": orjson.loads(row.metadata)}

    async def update_metadata(self, conv_id: str, metadata: dict[str, Any]) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                conversations.update()
                .where((conversations.c.id == conv_id) & (conversations.c.deleted.is_(False)))
                .values(metadata=orjson.dumps(metadata).decode())
            )
        return bool(result.rowcount)

    async def delete(self, conv_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                conversations.update().where((conversations.c.id == conv_id) & (conversations.c.deleted.is_(False))).values(deleted=True)
            )
            await conn.execute(conversation_items.delete().where(conversation_items.c.conversation_id == conv_id))
        return bool(result.rowcount)

    async def append(self, conv_id: str, items: list[dict[str, Any]]) -> bool:
        """Add items at the end. Positions come from a counter bumped in the same transaction,
        so concurrent writers never collide. False: no such conversation; DuplicateItem: an id
        the conversation already holds."""
        if not items:
            return True
        try:
            async with self.engine.begin() as conn:
                return await append_items(conn, conv_id, items)
        except sa.exc.IntegrityError as exc:  # a concurrent writer added the same id first
            raise DuplicateItem("") from exc

    async def all_items(self, conv_id: str) -> list[dict[str, Any]]:
        c = conversation_items.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(c.data).where(c.conversation_id == conv_id).order_by(c.position))
            return [orjson.loads(r[0]) for r in rows]

    async def tail(self, conv_id: str, budget: int, before: int | None = None) -> Page:
        """The newest items (before position `before`, when given) whose stored token
        estimates add up to at least `budget` (all of them when they add up to less), oldest
        first; `cursor` is the position of the oldest one read.

        One statement at any length: the running total of the newest row before `before`, the position where the total falls `budget` below it (found scanning
        back on the primary key, so about as many rows as the page holds are visited), and the
        page after that position. Rows written before migration 0009 (no totals) are all read,
        as before."""
        params: dict[str, Any] = {"conv_id": conv_id, "budget": budget}
        if before is not None:
            params["before"] = before
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_tail_query(before is not None), params)).all()
        more = bool(rows) and rows[0].bound is not None
        return Page([orjson.loads(r.data) for r in rows], more, rows[0].position if rows else None)

    async def list_items(self, conv_id: str, *, limit: int, order: str, after: str | None) -> tuple[list[dict[str, Any]], bool]:
        """A keyset page: the cursor item's position bounds an index range scan."""
        c = conversation_items.c
        query = sa.select(c.data).where(c.conversation_id == conv_id)
        async with self.engine.connect() as conn:
            if after:
                pos = (await conn.execute(sa.select(c.position).where((c.conversation_id == conv_id) & (c.item_id == after)))).scalar()
                if pos is not None:
                    query = query.where(c.position > pos if order == "asc" else c.position < pos)
            query = query.order_by(c.position.asc() if order == "asc" else c.position.desc()).limit(limit + 1)
            rows = (await conn.execute(query)).all()
        return [orjson.loads(r[0]) for r in rows[:limit]], len(rows) > limit

    async def get_item(self, conv_id: str, item_id: str) -> dict[str, Any] | None:
        c = conversation_items.c
        async with self.engine.connect() as conn:
            data = (await conn.execute(sa.select(c.data).where((c.conversation_id == conv_id) & (c.item_id == item_id)))).scalar()
        return orjson.loads(data) if data else None

    async def held_ids(self, conv_id: str, item_ids: list[str]) -> set[str]:
        """Which of these item ids the conversation already holds (one indexed query)."""
        c = conversation_items.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(c.item_id).where((c.conversation_id == conv_id) & c.item_id.in_(item_ids)))
            return {r[0] for r in rows}

    async def delete_item(self, conv_id: str, item_id: str) -> bool:
        c = conversation_items.c
        async with self.engine.begin() as conn:
            result = await conn.execute(conversation_items.delete().where((c.conversation_id == conv_id) & (c.item_id == item_id)))
        return bool(result.rowcount)

    async def lock(self, conv_id: str, holder: str, seconds: float) -> bool | None:
        """Take the conversation for one response or run (`holder`, its id) for a lease of
        `seconds` (ONWARD_LEASE_SECONDS for responses), which the holder renews while it runs
        (`renew`), so a dead process's lock lapses. Taking it again as the same holder renews
        it. None: no such conversation; False: busy."""
        now = time.time()
        c = conversations.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                conversations.update()
                .where((c.id == conv_id) & c.deleted.is_(False) & (c.locked_by.is_(None) | (c.locked_by == holder) | (c.locked_until < now)))
                .values(locked_by=holder, locked_until=now + seconds)
            )
            if result.rowcount:
                return True
            exists = (await conn.execute(sa.select(c.id).where((c.id == conv_id) & c.deleted.is_(False)))).scalar()
        return False if exists else None

    async def renew(self, holders: list[str], seconds: float) -> None:
        """Extend the leases of the locks these holders (response ids) still have."""
        if not holders:
            return
        c = conversations.c
        async with self.engine.begin() as conn:
            await conn.execute(conversations.update().where(c.locked_by.in_(holders)).values(locked_until=time.time() + seconds))

    async def unlock(self, conv_id: str, holder: str) -> None:
        c = conversations.c
        async with self.engine.begin() as conn:
            await conn.execute(conversations.update().where((c.id == conv_id) & (c.locked_by == holder)).values(locked_by=None, locked_until=None))


@functools.cache
def _tail_query(before: bool) -> sa.Select:
    """ConversationStore.tail's statement (built once: bound by :conv_id, :budget, :before)."""
    c = conversation_items.c
    where = c.conversation_id == sa.bindparam("conv_id")
    if before:
        where = where & (c.position < sa.bindparam("before"))
    # The newest row's own total (not the conversation's, which still counts deleted items),
    # so the page holds at least that row whenever older ones exist.
    top = sa.select(c.total_tokens).where(where).order_by(c.position.desc()).limit(1).scalar_subquery()
    bound = sa.select(c.position).where(where & (c.total_tokens <= top - sa.bindparam("budget"))).order_by(c.position.desc()).limit(1).scalar_subquery()
    return sa.select(c.position, c.data, bound.label("bound")).where(where & (c.position > sa.func.coalesce(bound, -1))).order_by(c.position)


def item_rows(conv_id: str, items: list[dict[str, Any]], start: int, total: int, now: int) -> list[dict[str, Any]]:
    """conversation_items rows for `items` at positions `start`…, with their token estimates
    and running totals continuing from `total` (the conversation's sum before them)."""
    rows = []
    for i, item in enumerate(items):
        data = orjson.dumps(item).decode()
        tokens = estimate_tokens(data)
        total += tokens
        rows.append({"conversation_id": conv_id, "position": start + i, "item_id": item["id"], "created_at": now, "data": data, "tokens": tokens, "total_tokens": total})
    return rows


async def append_items(conn: Any, conv_id: str, items: list[dict[str, Any]], *, skip_present: bool = False, now: int | None = None) -> bool:
    """Add `items` at the end of a conversation inside the caller's transaction: positions and
    the running token total come from the conversation row, bumped in one UPDATE … RETURNING,
    so concurrent writers never collide. An id the conversation already holds raises
    DuplicateItem, or, with `skip_present`, is left out. False: no such conversation."""
    c = conversation_items.c
    if not items:
        return True
    ids = [item["id"] for item in items]
    present = set((await conn.execute(sa.select(c.item_id).where((c.conversation_id == conv_id) & c.item_id.in_(ids)).limit(len(ids)))).scalars())
    if present and not skip_present:
        raise DuplicateItem(next(i for i in ids if i in present))
    items = [item for item in items if item["id"] not in present]
    if not items:
        return True
    rows = item_rows(conv_id, items, 0, 0, now if now is not None else int(time.time()))
    added = rows[-1]["total_tokens"]
    conv = conversations.c
    end = (
        await conn.execute(
            conversations.update()
            .where((conv.id == conv_id) & conv.deleted.is_(False))
            .values(next_position=conv.next_position + len(items), total_tokens=conv.total_tokens + added)
            .returning(conv.next_position, conv.total_tokens)
        )
    ).first()
    if end is None:
        return False
    start, base = end[0] - len(items), end[1] - added
    for row in rows:
        row["position"] += start
        row["total_tokens"] += base
    await conn.execute(conversation_items.insert(), rows)
    return True
