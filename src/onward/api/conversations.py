"""/v1/conversations and their items."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from .deps import json, page_params, services
from .errors import read_object

router = APIRouter(prefix="/v1/conversations")



@router.post("")
async def create(request: Request) -> Response:
    return json(await services(request).conversations.create(await read_object(request)))


@router.get("/{conv_id}")
async def get(request: Request, conv_id: str) -> Response:
    return json(await services(request).conversations.get(conv_id))


@router.post("/{conv_id}")
async def update(request: Request, conv_id: str) -> Response:
    return json(await services(request).conversations.update(conv_id, await read_object(request)))


@router.delete("/{conv_id}")
async def delete(request: Request, conv_id: str) -> Response:
    return json(await services(request).conversations.delete(conv_id))


@router.post("/{conv_id}/items")
async def add_items(request: Request, conv_id: str) -> Response:
    return json(await services(request).conversations.add_items(conv_id, await read_object(request)))


@router.get("/{conv_id}/items")
async def list_items(
    request: Request,
    conv_id: str,
    limit: int | None = None,
    order: str | None = None,
    after: str | None = None,
    include: list[str] | None = Query(default=None, alias="include[]"),
) -> Response:
    lim, direction = page_params(limit, order)
    return json(await services(request).conversations.list_items(conv_id, limit=lim, order=direction, after=after))


@router.get("/{conv_id}/items/{item_id}")
async def get_item(request: Request, conv_id: str, item_id: str) -> Response:
    return json(await services(request).conversations.get_item(conv_id, item_id))


@router.delete("/{conv_id}/items/{item_id}")
async def delete_item(request: Request, conv_id: str, item_id: str) -> Response:
    return json(await services(request).conversations.delete_item(conv_id, item_id))
