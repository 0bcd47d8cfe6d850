"""/v1/threads and their messages (Assistants API v2). A thread is a conversation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..assistants.params import MessageParams, MetadataUpdate, ThreadParams, ThreadUpdate
from .assistants import body_of, svc
from .deps import json, page_params

router = APIRouter(prefix="/v1/threads")


@router.post("")
async def create(request: Request) -> Response:
    return json(await svc(request).create_thread(await body_of(request, ThreadParams)))


@router.get("/{thread_id}")
async def get(request: Request, thread_id: str) -> Response:
    return json(await svc(request).get_thread(thread_id))


@router.post("/{thread_id}")
async def update(request: Request, thread_id: str) -> Response:
    return json(await svc(request).update_thread(thread_id, await body_of(request, ThreadUpdate)))


@router.delete("/{thread_id}")
async def delete(request: Request, thread_id: str) -> Response:
    return json(await svc(request).delete_thread(thread_id))


@router.post("/{thread_id}/messages")
async def create_message(request: Request, thread_id: str) -> Response:
    return json(await svc(request).create_message(thread_id, await body_of(request, MessageParams)))


@router.get("/{thread_id}/messages")
async def list_messages(
    request: Request,
    thread_id: str,
    limit: int | None = None,
    order: str | None = None,
    after: str | None = None,
    before: str | None = None,
    run_id: str | None = None,
) -> Response:
    lim, direction = page_params(limit, order)
    return json(await svc(request).list_messages(thread_id, run_id=run_id, limit=lim, order=direction, after=after, before=before))


@router.get("/{thread_id}/messages/{message_id}")
async def get_message(request: Request, thread_id: str, message_id: str) -> Response:
    return json(await svc(request).get_message(thread_id, message_id))


@router.post("/{thread_id}/messages/{message_id}")
async def update_message(request: Request, thread_id: str, message_id: str) -> Response:
    params = await body_of(request, MetadataUpdate)
    return json(await svc(request).update_message(thread_id, message_id, params.metadata))


@router.delete("/{thread_id}/messages/{message_id}")
async def delete_message(request: Request, thread_id: str, message_id: str) -> Response:
    return json(await svc(request).delete_message(thread_id, message_id))
