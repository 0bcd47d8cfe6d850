"""One access-log line per request, and an `x-request-id` on every response.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, which buffers streamed bodies):
it only wraps `send`, so SSE streams flow through untouched. It sits outside everything else,
so 401s from the key check and errors carry an id too. The SDK reads the header back as
`response._request_id` (and puts it in its error messages), so a user can quote it.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from ..ids import new_id

log = logging.getLogger("onward.access")
# An id a proxy or client already chose is kept if it is short and plain (it goes into logs
# and a header, so nothing that could forge a log line or a header).
_SANE = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id(headers: Any) -> bytes:
    """The request's own `x-request-id` if it looks sane, else a new `req_…`."""
    for name, value in headers:
        if name == b"x-request-id":
            if _SANE.fullmatch(value):
                return bytes(value)
            break
    return new_id("req", 32).encode()


class AccessLog:
    """Logs `METHOD path status duration_ms request_id` at INFO on `onward.access` when a
    request ends (a stream: when its last byte is sent; a WebSocket: when it closes, as 101, or
    403 if it was refused before the handshake)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        rid = request_id(scope.get("headers", ()))
        scope.setdefault("state", {})["request_id"] = rid.decode()
        start = time.perf_counter()
        status = 0

        async def send_with_id(message: dict) -> None:
            nonlocal status
            mtype = message["type"]
            # (websocket.http.response.start: a handshake refused with an HTTP answer)
            if mtype in ("http.response.start", "websocket.accept", "websocket.http.response.start"):
                status = message.get("status", 101)
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", rid)]}
            elif mtype == "websocket.close" and not status:
                status = 403  # closed before accepting: the client sees the handshake refused
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                method = scope.get("method", "WS") if kind == "http" else "WS"
                elapsed = (time.perf_counter() - start) * 1000
                log.info("%s %s %d %.1fms %s", method, scope["path"], status or 500, elapsed, rid.decode())
        return None
