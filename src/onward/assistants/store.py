"""Persistence for assistants, thread tool_resources and the Assistants fields of messages.

Threads and messages themselves live in the conversations tables (store/conversations.py);
the rows here only add what the Responses side has no place for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..store.models import assistant_messages, assistant_threads, assistants, conversation_items
from .paging import keyset_page


def dump(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass
class MessageRow:
    """A message item of a thread with its Assistants fields (defaults when written elsewhere)."""

    item: dict[str, Any]
    created_at: int
    run_id: str | None = None
    assistant_id: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _is_message(item: dict[str, Any]) -> bool:
    return item.get("type", "message") == "message" and item.get("role") in ("user", "assistant")


async def insert_message_fields(conn: Any, thread_id: str, rows: list[dict[str, Any]]) -> None:
    """The Assistants fields of new messages, inside the caller's transaction."""
    if not rows:
        return
    await conn.execute(
        assistant_messages.insert(),
        [
            {
                "thread_id": thread_id,
                "message_id": r["message_id"],
                "run_id": r.get("run_id"),
                "assistant_id": r.get("assistant_id"),
                "attachments": dump(r.get("attachments") or []),
                "metadata": dump(r.get("metadata") or {}),
                "extra": dump(r.get("extra") or {}),
            }
            for r in rows
        ],
    )


class AssistantStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- assistants -------------------------------------------------------------------
    async def create_assistant(self, body: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(assistants.insert().values(id=body["id"], created_at=body["created_at"], created_ns=time.time_ns(), body=dump(body)))

    async def get_assistant(self, assistant_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            data = (await conn.execute(sa.select(assistants.c.body).where(assistants.c.id == assistant_id))).scalar()
        return orjson.loads(data) if data else None

    async def save_assistant(self, body: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(assistants.update().where(assistants.c.id == body["id"]).values(body=dump(body)))

    async def delete_assistant(self, assistant_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(assistants.delete().where(assistants.c.id == assistant_id))
        return bool(result.rowcount)

    async def list_assistants(self, **paging: Any) -> tuple[list[dict[str, Any]], bool]:
        async with self.engine.connect() as conn:
            rows, more = await keyset_page(conn, assistants, sa.true(), **paging)
        return [orjson.loads(r.body) for r in rows], more

    # -- threads ----------------------------------------------------------------------
    async def get_tool_resources(self, thread_id: str) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            data = (await conn.execute(sa.select(assistant_threads.c.tool_resources).where(assistant_threads.c.thread_id == thread_id))).scalar()
        return orjson.loads(data) if data else {}

    async def set_tool_resources(self, thread_id: str, tool_resources: dict[str, Any]) -> None:
        t = assistant_threads
        async with self.engine.begin() as conn:
            result = await conn.execute(t.update().where(t.c.thread_id == thread_id).values(tool_resources=dump(tool_resources)))
            if not result.rowcount:
                await conn.execute(t.insert().values(thread_id=thread_id, tool_resources=dump(tool_resources)))

    async def forget_thread(self, thread_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(assistant_threads.delete().where(assistant_threads.c.thread_id == thread_id))
            await conn.execute(assistant_messages.delete().where(assistant_messages.c.thread_id == thread_id))

    # -- messages ---------------------------------------------------------------------
    async def add_message_fields(self, thread_id: str, rows: list[dict[str, Any]]) -> None:
        """rows: {message_id, run_id, assistant_id, attachments, metadata, extra}."""
        if not rows:
            return
        async with self.engine.begin() as conn:
            await insert_message_fields(conn, thread_id, rows)

    async def set_message_metadata(self, thread_id: str, message_id: str, metadata: dict[str, Any]) -> None:
        m = assistant_messages
        where = (m.c.thread_id == thread_id) & (m.c.message_id == message_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(m.update().where(where).values(metadata=dump(metadata)))
            if not result.rowcount:
                await conn.execute(m.insert().values(thread_id=thread_id, message_id=message_id, attachments="[]", metadata=dump(metadata), extra="{}"))

    async def forget_message(self, thread_id: str, message_id: str) -> None:
        m = assistant_messages
        async with self.engine.begin() as conn:
            await conn.execute(m.delete().where((m.c.thread_id == thread_id) & (m.c.message_id == message_id)))

    def _select(self, thread_id: str) -> Any:
        ci, m = conversation_items.c, assistant_messages.c
        joined = conversation_items.outerjoin(assistant_messages, (m.thread_id == ci.conversation_id) & (m.message_id == ci.item_id))
        return (
            sa.select(ci.position, ci.created_at, ci.data, m.run_id, m.assistant_id, m.attachments, m.metadata, m.extra)
            .select_from(joined)
            .where(ci.conversation_id == thread_id)
        )

    @staticmethod
    def _row(r: Any) -> MessageRow:
        return MessageRow(
            item=orjson.loads(r.data),
            created_at=r.created_at,
            run_id=r.run_id,
            assistant_id=r.assistant_id,
            attachments=orjson.loads(r.attachments) if r.attachments else [],
            metadata=orjson.loads(r.metadata) if r.metadata else {},
            extra=orjson.loads(r.extra) if r.extra else {},
        )

    async def get_message(self, thread_id: str, message_id: str) -> MessageRow | None:
        async with self.engine.connect() as conn:
            r = (await conn.execute(self._select(thread_id).where(conversation_items.c.item_id == message_id))).first()
        if r is None:
            return None
        row = self._row(r)
        return row if _is_message(row.item) else None

    async def list_messages(
        self, thread_id: str, *, limit: int, order: str, after: str | None, before: str | None, run_id: str | None = None
    ) -> tuple[list[MessageRow], bool]:
        """A keyset page of the thread's user/assistant messages, by position."""
        ci = conversation_items.c
        base = self._select(thread_id)
        if run_id:
            base = base.where(assistant_messages.c.run_id == run_id)
        else:  # cheap prefilter; exact filtering below
            base = base.where(ci.data.like('%"type":"message"%'))
        reverse = False
        async with self.engine.connect() as conn:
            for cursor, along in ((after, True), (before, False)):
                if not cursor:
                    continue
                pos = (await conn.execute(sa.select(ci.position).where((ci.conversation_id == thread_id) & (ci.item_id == cursor)))).scalar()
                if pos is None:
                    continue
                forward = along == (order == "asc")
                base = base.where(ci.position > pos if forward else ci.position < pos)
                reverse = reverse or not along
            ascending = (order == "asc") != reverse
            out: list[MessageRow] = []
            last: int | None = None
            while len(out) <= limit:
                query = base
                if last is not None:
                    query = query.where(ci.position > last if ascending else ci.position < last)
                query = query.order_by(ci.position.asc() if ascending else ci.position.desc()).limit(limit + 1)
                rows = (await conn.execute(query)).all()
                for r in rows:
                    row = self._row(r)
                    if _is_message(row.item):
                        out.append(row)
                if len(rows) < limit + 1:
                    break
                last = rows[-1].position
        more = len(out) > limit
        out = out[:limit]
        if reverse:
            out.reverse()
        return out, more
