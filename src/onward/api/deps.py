"""Small helpers shared by the routers: the services, JSON replies, paging parameters."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from ..errors import invalid


def services(request: Request) -> Any:
    return request.app.state.services


def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def page_params(limit: int | None, order: str | None, default_order: str = "desc") -> tuple[int, str]:
    limit = 20 if limit is None else limit
    if not 1 <= limit <= 100:
        raise invalid(f"Invalid 'limit': {limit}. It must be between 1 and 100.", "limit")
    order = order or default_order
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid 'order': {order!r}. Use 'asc' or 'desc'.", "order")
    return limit, order
