"""Prometheus metrics at /metrics: requests, their duration, and background work in flight.

Under `onward serve --workers N` (PROMETHEUS_MULTIPROC_DIR set by the parent) the processes
write their values to files there and a scrape, whichever process answers it, sums them:
prometheus-client's multiprocess mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.background = Gauge(
            "onward_background_responses_running", "Background responses running (in all the processes of `--workers N`)",
            registry=self.registry, multiprocess_mode="livesum",
        )
        self._watch: asyncio.Task | None = None
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # (method, route, status) -> its counter and histogram

    def watch_background(self, running: Any) -> None:
        """Report `len(running)`: read at each scrape, or with several processes (whose values
        live in files) written every second while the loop runs."""
        if not self.multiprocess:
            self.background.set_function(lambda: len(running))
            return

        async def write() -> None:
            while True:
                self.background.set(len(running))
                await asyncio.sleep(1.0)

        self._watch = asyncio.get_running_loop().create_task(write())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

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
            key = (scope["method"], route, status)
            children = self._children.get(key)
            if children is None:  # `labels()` checks and locks on every call: once per label set
                children = self._children[key] = (self.requests.labels(key[0], route, str(status)), self.duration.labels(key[0], route))
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
        return None

    async def endpoint(self, _request: Request) -> Response:
        registry = self.registry
        if self.multiprocess:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
