"""Stored items by id, wherever they live: a response's input or output, a conversation."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import conversation_items, response_items

# Which copy of an id wins when several rows hold it (a replayed item is stored again as the
# next response's input): the output that produced it, then a conversation's, then an input.
_RANK = {"output": 0, "conversation": 1, "input": 2}


async def find_items(engine: AsyncEngine, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored items with these ids, as {id: item}; absent ids are missing from the map.

    One query for the whole request, on the item_id indexes (migration 0007).
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    r, c = response_items.c, conversation_items.c
    query = sa.union_all(
        sa.select(r.item_id, r.kind.label("source"), r.data).where(r.item_id.in_(wanted)),
        sa.select(c.item_id, sa.literal("conversation").label("source"), c.data).where(c.item_id.in_(wanted)),
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    best: dict[str, tuple[int, str]] = {}
    for item_id, source, data in rows:
        rank = _RANK.get(source, 3)
        if item_id not in best or rank < best[item_id][0]:
            best[item_id] = (rank, data)
    return {item_id: orjson.loads(data) for item_id, (_rank, data) in best.items()}


def estimate_tokens(data: str) -> int:
    """A model-independent estimate of an item's tokens from its stored JSON (`data`): one
    per four characters, plus one. JSON keys and ids make it high for short items and some
    scripts (CJK) make it low, so it only sizes how much history is read; the provider's own
    counter decides what fits (engine/history.py). The same formula backfills old rows in SQL
    (migration 0009)."""
    return len(data) // 4 + 1
