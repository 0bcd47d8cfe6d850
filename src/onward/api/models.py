"""/v1/models: what the registry serves.

The list holds the configured names and aliases. Retrieving a name answers for every name a
request may use: with no models file (or a `fallback` route) that is any name, so a client
that checks `models.retrieve("gpt-4o")` before using it works unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..providers.registry import UnknownModel
from .deps import json, services

router = APIRouter()
CREATED = 1735689600  # models have no creation time here; a fixed, honest-looking epoch


def _model(name: str, owner: str) -> dict:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": owner}


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    registry = services(request).registry
    data = []
    for name in registry.names():
        route = registry.get(name).route
        data.append(_model(name, f"onward:{route.provider}"))
    return json({"object": "list", "data": data})


@router.get("/v1/models/{model_id:path}")
async def get_model(request: Request, model_id: str) -> Response:
    registry = services(request).registry
    try:
        model = registry.get(model_id)
    except UnknownModel as exc:
        raise registry.not_found(exc) from exc
    return json(_model(model_id, f"onward:{model.route.provider}"))
