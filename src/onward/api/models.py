"""/v1/models: what the registry serves."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import not_found
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
    if model_id not in registry.names():
        raise not_found(f"The model '{model_id}' does not exist.", "model")
    return json(_model(model_id, f"onward:{registry.get(model_id).route.provider}"))
