"""The Conversations service: create, read, update, delete, and their items."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import APIError, invalid, not_found, reject_unknown
from ..ids import new_id
from ..store.conversations import ConversationStore, DuplicateItem
from . import context
from .items import check_unique_ids
from .references import resolve_references

MAX_ITEMS_PER_CALL = 20


def _check_metadata(metadata: Any) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise invalid("'metadata' must be an object of string keys and string values.", "metadata", "invalid_type")
    if len(metadata) > 16:
        raise invalid("metadata may hold at most 16 keys.", "metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise invalid(f"metadata entry {key[:20]!r}: keys hold at most 64 characters, values 512.", "metadata")
    return metadata


def _items(raw: Any, param: str = "items") -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid(f"'{param}' must be an array of items.", param, "invalid_type")
    if len(raw) > MAX_ITEMS_PER_CALL:
        raise invalid(f"'{param}' holds {len(raw)} items; at most {MAX_ITEMS_PER_CALL} can be added in one call.", param, "array_above_max_length")
    try:
        return context.normalize_input(raw)
    except Exception as exc:  # re-point the param from input[...] to items[...]
        if getattr(exc, "param", None):
            exc.param = exc.param.replace("input", param, 1)  # type: ignore[attr-defined]
            exc.message = exc.message.replace("'input", f"'{param}", 1)  # type: ignore[attr-defined]
        raise


def duplicate(items: list[dict[str, Any]], item_id: str, param: str) -> APIError:
    """400 for an item id the conversation already holds, naming `param[i].id`."""
    where = next((f"{param}[{i}].id" for i, item in enumerate(items) if item["id"] == item_id), param)
    return invalid(f"Duplicate item found with id {item_id or '(one of ' + param + ')'}.", where, "duplicate_item")


class ConversationsService:
    def __init__(self, store: ConversationStore, settle_writes: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.settle_writes = settle_writes  # responses' in-flight writes, before an item_reference lookup

    async def _resolve(self, raw: Any) -> tuple[list[dict[str, Any]], set[int]]:
        items = _items(raw)
        if self.settle_writes and any(item.get("type") == "item_reference" for item in items):
            await self.settle_writes()
        return await resolve_references(self.store.engine, items, "items")

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, {"items", "metadata"})
        metadata = _check_metadata(body.get("metadata"))
        items, _ = await self._resolve(body.get("items"))
        check_unique_ids(items, param="items")  # a referenced item next to a copy of it
        return await self.store.create(new_id("conv"), metadata, items)

    async def get(self, conv_id: str) -> dict[str, Any]:
        conv = await self.store.get(conv_id)
        if conv is None:
            raise not_found(f"Conversation with id '{conv_id}' not found.", "conversation_id")
        return conv

    async def update(self, conv_id: str, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, {"metadata"})
        if "metadata" not in body:
            raise invalid("Missing required parameter: 'metadata'.", "metadata", "missing_required_parameter")
        if not await self.store.update_metadata(conv_id, _check_metadata(body["metadata"])):
            raise not_found(f"Conversation with id '{conv_id}' not found.", "conversation_id")
        return await self.get(conv_id)

    async def delete(self, conv_id: str) -> dict[str, Any]:
        if not await self.store.delete(conv_id):
            raise not_found(f"Conversation with id '{conv_id}' not found.", "conversation_id")
        return {"id": conv_id, "object": "conversation.deleted", "deleted": True}

    async def add_items(self, conv_id: str, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, {"items"})
        if not body.get("items"):
            raise invalid("Missing required parameter: 'items'.", "items", "missing_required_parameter")
        items, referenced = await self._resolve(body["items"])
        if referenced:  # an item the conversation already holds is not added twice
            held = await self.store.held_ids(conv_id, [items[k]["id"] for k in referenced])
            items = [item for k, item in enumerate(items) if k not in referenced or item["id"] not in held]
        try:
            appended = await self.store.append(conv_id, items)
        except DuplicateItem as exc:
            raise duplicate(items, exc.item_id, "items") from exc
        if not appended:
            raise not_found(f"Conversation with id '{conv_id}' not found.", "conversation_id")
        return _page(items, False)

    async def list_items(self, conv_id: str, *, limit: int, order: str, after: str | None) -> dict[str, Any]:
        await self.get(conv_id)
        items, has_more = await self.store.list_items(conv_id, limit=limit, order=order, after=after)
        return _page(items, has_more)

    async def get_item(self, conv_id: str, item_id: str) -> dict[str, Any]:
        await self.get(conv_id)
        item = await self.store.get_item(conv_id, item_id)
        if item is None:
            raise not_found(f"Item with id '{item_id}' not found in conversation '{conv_id}'.", "item_id")
        return item

    async def delete_item(self, conv_id: str, item_id: str) -> dict[str, Any]:
        conv = await self.get(conv_id)
        if not await self.store.delete_item(conv_id, item_id):
            raise not_found(f"Item with id '{item_id}' not found in conversation '{conv_id}'.", "item_id")
        return conv


def _page(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }
