"""The ASGI app: wires settings, store, providers and services to the routers."""

from __future__ import annotations

import contextlib
import gc
import hmac
import logging
import os
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Depends, FastAPI

from . import __version__
from .api import assistants as assistants_api
from .api import containers as containers_api
from .api import conversations as conversations_api
from .api import errors as api_errors
from .api import files as files_api
from .api import guard
from .api import models as models_api
from .api import openapi as openapi_api
from .api import responses as responses_api
from .api import runs as runs_api
from .api import threads as threads_api
from .api import vector_stores as vector_stores_api
from .api import websocket as websocket_api
from .api.access_log import AccessLog
from .api.fast_route import FastResponsesRoute
from .api.metrics import Metrics
from .assistants.boot import start_service as start_assistants
from .config import Settings
from .engine.containers import ContainerService
from .engine.conversations import ConversationsService
from .engine.files import FileService
from .engine.service import ResponsesService
from .engine.vector_stores import start_service as start_vector_stores
from .errors import APIError
from .providers.registry import Registry
from .store.containers import ContainerStore
from .store.conversations import ConversationStore
from .store.db import is_sqlite, make_engine, migrate
from .store.files import FileStore
from .store.responses import ResponseStore

log = logging.getLogger("onward")
LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"  # the pid tells `--workers` processes apart
OPEN_PATHS = ("/health", "/docs", "/openapi.json")


@dataclass
class Services:
    settings: Settings
    registry: Registry
    responses: ResponsesService
    conversations: ConversationsService
    files: Any = None  # FileService (api/files.py)
    vector_stores: Any = None  # VectorStoreService (api/vector_stores.py)
    assistants: Any = None  # AssistantsService (api/assistants.py, api/threads.py)
    runs: Any = None  # RunService (api/runs.py)
    containers: Any = None  # ContainerService (api/containers.py, the code_interpreter tool)


class KeyAuth:
    """Bearer keys, checked before anything else runs (a plain ASGI middleware: it is on the
    hot path). With no keys configured every request passes; serve refuses that off loopback."""

    def __init__(self, app: Any, keys: list[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if not self.keys or scope["type"] not in ("http", "websocket") or scope["path"].startswith(OPEN_PATHS):
            return await self.app(scope, receive, send)
        auth = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                auth = value
                break
        token = auth[7:].strip() if auth[:7].lower() == b"bearer " else b""
        if token and any(hmac.compare_digest(token, k) for k in self.keys):
            return await self.app(scope, receive, send)
        err = APIError(401, "Incorrect API key provided. Pass one of the server's keys as 'Authorization: Bearer <key>'.", code="invalid_api_key")
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid_api_key"})
            return None
        body = orjson.dumps(err.body())
        await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return None


def create_app(settings: Settings | None = None) -> Any:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(settings.database_url)
        await migrate(engine)
        registry = Registry(settings)
        conversation_store = ConversationStore(engine)
        responses = ResponsesService(settings, ResponseStore(engine), registry, conversation_store)
        services = Services(settings, registry, responses, ConversationsService(conversation_store, responses.settle_writes))
        services.files = FileService(await FileStore.from_env(engine, settings.data_dir / "files"))
        if not is_sqlite(engine) and services.files.store.blobs.location.startswith("local:"):
            log.warning(
                "Files are stored on this machine's local disk (%s): other processes on this PostgreSQL database can read them only if they share "
                "that directory. With several machines, set ONWARD_S3_BUCKET or put ONWARD_DATA_DIR on a shared filesystem.",
                services.files.store.root,
            )
        services.vector_stores = await start_vector_stores(engine, services.files, settings)
        responses.vector_stores = services.vector_stores
        services.containers = ContainerService(ContainerStore(engine), settings.data_dir / "containers", services.files)
        await services.containers.start()
        responses.containers = services.containers
        app.state.metrics.watch_background(responses.background.tasks)
        services.assistants, services.runs = await start_assistants(engine, services)
        app.state.services = services
        await responses.start()
        # Everything made so far (modules, the SDK's pydantic types, SQLAlchemy's metadata:
        # ~230k objects) lives as long as the process. Frozen, the collector stops walking it:
        # full collections took ~20% of the CPU of a stored response under load. A request
        # allocates thousands of short-lived objects: collecting the young generation every
        # 20,000 allocations instead of 700 cut the rest of the collector's time by 6x
        # (measured; bench/README.md, "What the profile says is left").
        gc.freeze()
        gc.set_threshold(20_000, 10, 10)
        try:
            yield
        finally:
            await app.state.metrics.stop()
            await services.runs.stop()
            await responses.stop()
            await services.containers.stop()
            await services.vector_stores.stop()
            await registry.aclose()
            await engine.dispose()

    app = FastAPI(title="Onward", version=__version__, lifespan=lifespan, dependencies=[Depends(guard.no_nul_in_url)])
    api_errors.install(app)
    app.include_router(responses_api.router)
    app.include_router(models_api.router)
    app.include_router(conversations_api.router)
    app.include_router(files_api.router)
    app.include_router(vector_stores_api.router)
    app.include_router(containers_api.router)
    app.include_router(websocket_api.router)
    app.include_router(assistants_api.router)
    app.include_router(runs_api.router)  # before threads: POST /v1/threads/runs
    app.include_router(threads_api.router)
    openapi_api.install(app)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "version": __version__}

    metrics = Metrics(FastResponsesRoute(app))  # POST /v1/responses skips FastAPI's router
    app.add_route("/metrics", metrics.endpoint, include_in_schema=False)
    app.state.metrics = metrics
    return guard.KeepAlive(AccessLog(KeyAuth(metrics, settings.api_keys)))


def setup_logging(level: str) -> None:
    """Log to stderr at `level` (debug, info: one access-log line per request, warning), each
    line carrying the process id."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    if level.lower() != "debug":  # schema migrations speak only when asked: the ready line is the news
        logging.getLogger("alembic").setLevel(logging.WARNING)


def worker_app() -> Any:
    """The app of one process of `onward serve --workers N` (uvicorn's factory import string,
    called in the child): its settings and log level come from the ONWARD_* variables the
    parent set (processes.child_environment)."""
    from .processes import die_with_parent

    die_with_parent()
    setup_logging(os.environ.get("ONWARD_LOG_LEVEL", "info"))
    return create_app(Settings.from_env())
