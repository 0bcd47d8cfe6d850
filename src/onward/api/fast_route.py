"""`POST /v1/responses`, the route every model call takes, served without FastAPI's router.

FastAPI's routing, dependency solving and per-route exception wrapping cost about 50 µs a
request (measured in-process against the same handler called directly), a tenth of what a
whole stored response costs Onward. This ASGI middleware sits where the router would be and
calls the same handler (`api.responses.create_response`) the same way: the route's global
dependency (`guard.no_nul_in_url`) first, `APIError`s as their 4xx envelope, anything else as
the logged 500 that FastAPI's `ServerErrorMiddleware` sends (then re-raised, as it does). The
route stays registered with FastAPI, for the OpenAPI document; every other request (other
methods, `/v1/responses/` with a slash) goes to FastAPI as before.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..errors import APIError
from . import guard
from .errors import error_response, unexpected
from .responses import create_response, router

PATH = "/v1/responses"


class FastResponsesRoute:
    def __init__(self, app: Any) -> None:
        self.app = app  # the FastAPI app: everything else, and `request.app` for the handler
        # The APIRoute of api/responses.py (FastAPI includes routers lazily: not in app.routes).
        self.route = next(r for r in router.routes if getattr(r, "path", None) == PATH and "POST" in getattr(r, "methods", ()))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        # What FastAPI's app and router put in the scope (metrics label by `route.path`).
        scope["app"] = self.app
        scope["route"] = self.route
        scope["endpoint"] = create_response
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            await guard.no_nul_in_url(request)
            response = await create_response(request)
        except APIError as exc:
            response = error_response(exc)
        except Exception as exc:
            await (await unexpected(request, exc))(scope, receive, send)
            raise
        await response(scope, receive, send)
        return None
