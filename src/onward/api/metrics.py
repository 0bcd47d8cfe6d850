"""Prometheus metrics at /metrics: requests, their duration, and background work in flight."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """A plain ASGI middleware (cheap on the hot path). Routes are labelled by their template
    (`/v1/responses/{response_id}`), never by raw paths, so label sets stay bounded."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.registry = CollectorRegistry()
        self.requests = Counter("onward_http_requests", "HTTP requests served", ["method", "route", "status"], registry=self.registry)
        self.duration = Histogram(
            "onward_http_request_duration_seconds", "Time to the end of the reply (streams included)", ["method", "route"], buckets=_BUCKETS, registry=self.registry
        )
        self.background = Gauge("onward_background_responses_running", "Background responses this process is running", registry=self.registry)

    def watch_background(self, running: Any) -> None:
        self.background.set_function(lambda: len(running))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.duration.labels(scope["method"], route).observe(time.perf_counter() - start)
        return None

    async def endpoint(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
