"""Conversations: durable, ordered lists of items keyed by (conversation, position)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import conversation_items, conversations


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
        async with self.engine.begin() as conn:
            await conn.execute(
                conversations.insert().values(id=conv_id, created_at=now, metadata=orjson.dumps(metadata).decode(), next_position=len(items), deleted=False)
            )
            await self._insert(conn, conv_id, 0, items, now)
        return {"id": conv_id, "object": "conversation", "created_at": now, "metadata": metadata}

    async def _insert(self, conn, conv_id: str, start: int, items: list[dict[str, Any]], now: int) -> None:
        if items:
            await conn.execute(
                conversation_items.insert(),
                [
                    {"conversation_id": conv_id, "position": start + i, "item_id": item["id"], "created_at": now, "data": orjson.dumps(item).decode()}
                    for i, item in enumerate(items)
                ],
            )

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
            return await self._append(conv_id, items)
        except sa.exc.IntegrityError as exc:  # a concurrent writer added the same id first
            raise DuplicateItem("") from exc

    async def _append(self, conv_id: str, items: list[dict[str, Any]]) -> bool:
        c = conversation_items.c
        async with self.engine.begin() as conn:
            taken = (
                await conn.execute(sa.select(c.item_id).where((c.conversation_id == conv_id) & c.item_id.in_([i["id"] for i in items])).limit(1))
            ).scalar()
            if taken is not None:
                raise DuplicateItem(taken)
            end = (
                await conn.execute(
                    conversations.update()
                    .where((conversations.c.id == conv_id) & (conversations.c.deleted.is_(False)))
                    .values(next_position=conversations.c.next_position + len(items))
                    .returning(conversations.c.next_position)
                )
            ).scalar()
            if end is None:
                return False
            await self._insert(conn, conv_id, end - len(items), items, int(time.time()))
        return True

    async def all_items(self, conv_id: str) -> list[dict[str, Any]]:
        c = conversation_items.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(c.data).where(c.conversation_id == conv_id).order_by(c.position))
            return [orjson.loads(r[0]) for r in rows]

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
