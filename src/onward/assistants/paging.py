"""Keyset pages over (created_ns, id) with OpenAI's `limit/order/after/before`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


async def keyset_page(
    conn: Any,
    table: sa.Table,
    scope: Any,
    *,
    limit: int,
    order: str,
    after: str | None,
    before: str | None,
) -> tuple[list[sa.Row], bool]:
    """Rows of `table` matching `scope`, ordered by (created_ns, id). `after` moves along
    the order, `before` against it (the page nearest the cursor, still in `order`)."""
    c = table.c
    key = sa.tuple_(c.created_ns, c.id)
    query = sa.select(table).where(scope)
    reverse = False
    for cursor, along in ((after, True), (before, False)):
        if not cursor:
            continue
        ns = (await conn.execute(sa.select(c.created_ns).where(scope & (c.id == cursor)))).scalar()
        if ns is None:
            continue
        forward = along == (order == "asc")
        query = query.where(key > sa.tuple_(sa.literal(ns), sa.literal(cursor)) if forward else key < sa.tuple_(sa.literal(ns), sa.literal(cursor)))
        if not along:
            reverse = True
    ascending = (order == "asc") != reverse
    query = query.order_by(c.created_ns.asc(), c.id.asc()) if ascending else query.order_by(c.created_ns.desc(), c.id.desc())
    rows = list((await conn.execute(query.limit(limit + 1))).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    if reverse:
        rows.reverse()
    return rows, has_more


def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
