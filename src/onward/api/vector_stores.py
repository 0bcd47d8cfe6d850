"""/v1/vector_stores: stores, their files and file batches, search."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from .deps import json, page_params, services
from .errors import read_object

router = APIRouter(prefix="/v1/vector_stores")
POLL_AFTER_MS = "100"  # hint for the SDK's *_and_poll helpers
LONG_POLL_SECONDS = 5.0  # a poll helper's GET waits this long for ingestion to move on



async def _polled(request: Request, vs_id: str, read: Callable[[], Awaitable[dict[str, Any]]], busy: Callable[[dict[str, Any]], bool]) -> Response:
    """Answer a GET; for the SDK's poll helpers, hold it while ingestion is still running
    (up to LONG_POLL_SECONDS), which saves most of their round trips."""
    obj = await read()
    if busy(obj) and request.headers.get("x-stainless-poll-helper") == "true":
        changed = services(request).vector_stores.watch(vs_id)
        obj = await read()  # read again after subscribing: no change can slip between
        if busy(obj):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), LONG_POLL_SECONDS)
            obj = await read()
    return json(obj, headers={"openai-poll-after-ms": POLL_AFTER_MS} if busy(obj) else None)


# -- vector stores -------------------------------------------------------------------------


@router.post("")
async def create(request: Request) -> Response:
    return json(await services(request).vector_stores.create(await read_object(request)))


@router.get("")
async def list_stores(request: Request, limit: int | None = None, order: str | None = None, after: str | None = None, before: str | None = None) -> Response:
    lim, direction = page_params(limit, order)
    return json(await services(request).vector_stores.list_stores(limit=lim, order=direction, after=after, before=before))


@router.get("/{vs_id}")
async def get(request: Request, vs_id: str) -> Response:
    return json(await services(request).vector_stores.get(vs_id))


@router.post("/{vs_id}")
async def update(request: Request, vs_id: str) -> Response:
    return json(await services(request).vector_stores.update(vs_id, await read_object(request)))


@router.delete("/{vs_id}")
async def delete(request: Request, vs_id: str) -> Response:
    return json(await services(request).vector_stores.delete(vs_id))


@router.post("/{vs_id}/search")
async def search(request: Request, vs_id: str) -> Response:
    return json(await services(request).vector_stores.search_page(vs_id, await read_object(request)))


# -- files ---------------------------------------------------------------------------------


@router.post("/{vs_id}/files")
async def create_file(request: Request, vs_id: str) -> Response:
    return json(await services(request).vector_stores.create_file(vs_id, await read_object(request)))


@router.get("/{vs_id}/files")
async def list_files(
    request: Request, vs_id: str, limit: int | None = None, order: str | None = None, after: str | None = None, before: str | None = None, filter: str | None = None
) -> Response:
    lim, direction = page_params(limit, order)
    return json(await services(request).vector_stores.list_files(vs_id, limit=lim, order=direction, after=after, before=before, status=filter))


@router.get("/{vs_id}/files/{file_id}")
async def get_file(request: Request, vs_id: str, file_id: str) -> Response:
    svc = services(request).vector_stores
    return await _polled(request, vs_id, lambda: svc.get_file(vs_id, file_id), lambda f: f["status"] == "in_progress")


@router.post("/{vs_id}/files/{file_id}")
async def update_file(request: Request, vs_id: str, file_id: str) -> Response:
    return json(await services(request).vector_stores.update_file(vs_id, file_id, await read_object(request)))


@router.delete("/{vs_id}/files/{file_id}")
async def delete_file(request: Request, vs_id: str, file_id: str) -> Response:
    return json(await services(request).vector_stores.delete_file(vs_id, file_id))


@router.get("/{vs_id}/files/{file_id}/content")
async def file_content(request: Request, vs_id: str, file_id: str) -> Response:
    return json(await services(request).vector_stores.file_content(vs_id, file_id))


# -- file batches --------------------------------------------------------------------------


@router.post("/{vs_id}/file_batches")
async def create_batch(request: Request, vs_id: str) -> Response:
    return json(await services(request).vector_stores.create_batch(vs_id, await read_object(request)))


@router.get("/{vs_id}/file_batches/{batch_id}")
async def get_batch(request: Request, vs_id: str, batch_id: str) -> Response:
    svc = services(request).vector_stores
    return await _polled(request, vs_id, lambda: svc.get_batch(vs_id, batch_id), lambda b: b["file_counts"]["in_progress"] > 0)


@router.post("/{vs_id}/file_batches/{batch_id}/cancel")
async def cancel_batch(request: Request, vs_id: str, batch_id: str) -> Response:
    return json(await services(request).vector_stores.cancel_batch(vs_id, batch_id))


@router.get("/{vs_id}/file_batches/{batch_id}/files")
async def list_batch_files(
    request: Request, vs_id: str, batch_id: str, limit: int | None = None, order: str | None = None, after: str | None = None, before: str | None = None, filter: str | None = None
) -> Response:
    lim, direction = page_params(limit, order)
    return json(await services(request).vector_stores.list_files(vs_id, limit=lim, order=direction, after=after, before=before, status=filter, batch_id=batch_id))
