"""Write staged records into an Onward database through the store layer: one transaction per
thread, original ids kept, nothing written twice.

A thread becomes a `conversations` row with the same id (so `/v1/threads/{id}` and
`/v1/conversations/{id}` both serve it), its messages and function calls `conversation_items`
in order, its runs and run steps rows of the Assistants tables.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...store.items import estimate_tokens
from ...store.models import (
    assistant_messages,
    assistant_run_steps,
    assistant_runs,
    assistant_threads,
    assistants,
    conversation_items,
    conversations,
)
from .items import message_item, settled_run, step_items
from .staging import Staging

BATCH = 1000


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass
class Tally:
    """What an import added (or, with --dry-run, would add) and what it found already there."""

    assistants: int = 0
    threads: int = 0
    threads_existing: int = 0
    messages: int = 0
    tool_calls: int = 0
    runs: int = 0
    steps: int = 0
    skipped: int = 0  # objects already in the target
    warnings: list[str] = field(default_factory=list)


async def write_local(engine: AsyncEngine, staging: Staging, *, dry_run: bool, progress: Callable[[int], None] = lambda n: None) -> Tally:
    """Write everything staged. `progress(n)` is told how many records each step handled."""
    tally = Tally()
    async with _transaction(engine, dry_run) as conn:
        for body in staging.of_kind("assistant"):
            if await _exists(conn, assistants, assistants.c.id, body["id"]):
                tally.skipped += 1
            else:
                tally.assistants += 1
                if not dry_run:
                    await conn.execute(assistants.insert().values(id=body["id"], created_at=body["created_at"], created_ns=body["created_at"] * 10**9, body=_dump(body)))
            progress(1)
    for thread_id in staging.thread_ids():
        async with _transaction(engine, dry_run) as conn:
            await _thread(conn, staging, thread_id, tally, progress)
    return tally


@asynccontextmanager
async def _transaction(engine: AsyncEngine, dry_run: bool) -> AsyncIterator[AsyncConnection]:
    """A transaction that commits, or with --dry-run always rolls back: the same reads and
    writes run, so the counts are exact, and nothing stays."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        try:
            yield conn
        except BaseException:
            await trans.rollback()
            raise
        if dry_run:
            await trans.rollback()
        else:
            await trans.commit()


async def _exists(conn: AsyncConnection, table: sa.Table, column: sa.Column, value: str) -> bool:
    return (await conn.execute(sa.select(column).where(column == value))).first() is not None


async def _thread(conn: AsyncConnection, staging: Staging, thread_id: str, tally: Tally, progress: Callable[[int], None]) -> None:
    c = conversations.c
    thread = staging.thread(thread_id)
    row = (await conn.execute(sa.select(c.next_position, c.deleted, c.total_tokens).where(c.id == thread_id))).first()
    if row is not None and row.deleted:
        tally.warnings.append(f"thread {thread_id} was deleted in the target; not imported again")
        return
    if row is None:
        tally.threads += 1
        created_at = (thread or {}).get("created_at") or None
        next_position = total = 0
        first = True
    else:
        tally.threads_existing += 1
        next_position, total = row.next_position, row.total_tokens
        first = False
    seen = set((await conn.execute(sa.select(conversation_items.c.item_id).where(conversation_items.c.conversation_id == thread_id))).scalars())
    items: list[dict[str, Any]] = []
    fields: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    start = next_position

    async def flush() -> None:
        nonlocal items, fields, start
        if items:
            await conn.execute(conversation_items.insert(), items)
        if fields:
            await conn.execute(assistant_messages.insert(), fields)
        start += len(items)
        items, fields = [], []

    for kind, body in staging.timeline(thread_id):
        if first and created_at is None:
            created_at = body["created_at"]
        if first:  # the conversation row must exist before its items
            await conn.execute(conversations.insert().values(id=thread_id, created_at=created_at, metadata=_dump((thread or {}).get("metadata") or {}), next_position=0, deleted=False))
            await conn.execute(assistant_threads.insert().values(thread_id=thread_id, tool_resources=_dump((thread or {}).get("tool_resources") or {})))
            first = False
        if kind == "message":
            item, extra = message_item(body)
            new = [item]
        else:
            steps.append(body)
            new = step_items(body)
            extra = None
        for one in new:
            if one["id"] in seen:
                tally.skipped += 1
                continue
            seen.add(one["id"])
            data = _dump(one)
            total += estimate_tokens(data)  # the running sum a model request reads the thread's tail by
            items.append({"conversation_id": thread_id, "position": start + len(items), "item_id": one["id"], "created_at": body["created_at"], "data": data,
                          "tokens": estimate_tokens(data), "total_tokens": total})
            if one["type"] == "message":
                tally.messages += 1
            else:
                tally.tool_calls += 1
            if extra is not None:
                fields.append({"thread_id": thread_id, **extra, "attachments": _dump(extra["attachments"]), "metadata": _dump(extra["metadata"]), "extra": _dump(extra["extra"])})
        progress(1)
        if len(items) >= BATCH:
            await flush()
    if first:  # a thread with no messages at all
        await conn.execute(conversations.insert().values(id=thread_id, created_at=created_at or int(time.time()), metadata=_dump((thread or {}).get("metadata") or {}), next_position=0, deleted=False))
        await conn.execute(assistant_threads.insert().values(thread_id=thread_id, tool_resources=_dump((thread or {}).get("tool_resources") or {})))
    await flush()
    await conn.execute(conversations.update().where(c.id == thread_id).values(next_position=start, total_tokens=total))
    await _runs(conn, staging, thread_id, steps, tally, progress)


async def _runs(conn: AsyncConnection, staging: Staging, thread_id: str, steps: list[dict[str, Any]], tally: Tally, progress: Callable[[int], None]) -> None:
    r = assistant_runs.c
    have = set((await conn.execute(sa.select(r.id).where(r.thread_id == thread_id))).scalars())
    now = time.time()
    for order, run in enumerate(staging.runs(thread_id)):
        progress(1)
        if run["id"] in have:
            tally.skipped += 1
            continue
        run, warning = settled_run(run)
        if warning:
            tally.warnings.append(warning)
        tally.runs += 1
        await conn.execute(
            assistant_runs.insert().values(
                id=run["id"], thread_id=thread_id, created_at=run["created_at"], created_ns=run["created_at"] * 10**9 + order,
                status=run["status"], expires_at=run.get("expires_at"), body=_dump(run), request="{}", owner=None,
                lease_until=None, cancel_requested=False, updated_at=now,
            )
        )
    if not steps:
        return
    s = assistant_run_steps.c
    known = set((await conn.execute(sa.select(s.id).where(s.id.in_([st["id"] for st in steps])))).scalars())
    rows = []
    for order, step in enumerate(steps):
        if step["id"] in known:
            tally.skipped += 1
            continue
        tally.steps += 1
        rows.append({"id": step["id"], "run_id": step.get("run_id") or "", "created_ns": step["created_at"] * 10**9 + order, "body": _dump(step)})
    if rows:
        await conn.execute(assistant_run_steps.insert(), rows)
