"""/v1/assistants (Assistants API v2): create, list, get, modify, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..assistants.params import AssistantCreate
from .deps import json, page_params, services
from .errors import read_object, validate

router = APIRouter(prefix="/v1/assistants")


def svc(request: Request) -> Any:
    return services(request).assistants


async def body_of(request: Request, model: Any) -> Any:
    return validate(model, await read_object(request))


@router.post("")
async def create(request: Request) -> Response:
    return json(await svc(request).create_assistant(await body_of(request, AssistantCreate)))


@router.get("")
async def list_assistants(request: Request, limit: int | None = None, order: str | None = None, after: str | None = None, before: str | None = None) -> Response:
    lim, direction = page_params(limit, order)
    return json(await svc(request).list_assistants(limit=lim, order=direction, after=after, before=before))


@router.get("/{assistant_id}")
async def get(request: Request, assistant_id: str) -> Response:
    return json(await svc(request).get_assistant(assistant_id))


@router.post("/{assistant_id}")
async def update(request: Request, assistant_id: str) -> Response:
    return json(await svc(request).update_assistant(assistant_id, await body_of(request, AssistantCreate)))


@router.delete("/{assistant_id}")
async def delete(request: Request, assistant_id: str) -> Response:
    return json(await svc(request).delete_assistant(assistant_id))
