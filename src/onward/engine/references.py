"""`item_reference` inputs: a client names a stored item by id instead of sending it again
(the Vercel AI SDK replays earlier assistant turns this way)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import invalid
from ..store.items import find_items


async def resolve_references(engine: AsyncEngine, items: list[dict[str, Any]], param: str = "input") -> tuple[list[dict[str, Any]], set[int]]:
    """`item_reference` placeholders (from context.normalize_input) replaced by the stored
    items they name: any stored response's input or output, any conversation's item, as on
    OpenAI. One query for the whole list; 400 naming `<param>[i]` for an unknown id.

    Returns the items and the positions (in the returned list) that came from references; a
    repeated reference is kept once.
    """
    refs = [k for k, item in enumerate(items) if item.get("type") == "item_reference"]
    if not refs:
        return items, set()
    found = await find_items(engine, [items[k]["id"] for k in refs])
    out: list[dict[str, Any]] = []
    kept: set[int] = set()
    seen: set[str] = set()
    for k, item in enumerate(items):
        if item.get("type") != "item_reference":
            out.append(item)
            continue
        stored = found.get(item["id"])
        if stored is None:
            raise invalid(f"Item with id '{item['id']}' not found.", f"{param}[{k}]")
        if item["id"] in seen:
            continue
        seen.add(item["id"])
        kept.add(len(out))
        out.append(stored)
    return out, kept
