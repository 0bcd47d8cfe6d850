"""WebSocket mode on /v1/responses (Open Responses 2026-04-24).

Each text frame `{"type": "response.create", ...create fields}` starts a turn; the turns of one
socket run one at a time, in arrival order. Every `response.*` event goes back as one JSON text
frame, the same payload as over SSE, plus `stream_id` when the client gave one. `store: false`
responses stay in a small per-connection LRU so `previous_response_id` works on the same socket
without storage. Client mistakes come back as `error` frames and never close the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket

from ..engine.events import encode
from ..engine.history import chain_tail
from ..engine.params import CreateResponse
from ..engine.ratelimit import caller_of
from ..errors import APIError, invalid
from .deps import services
from .errors import parse_json, validate

router = APIRouter()
log = logging.getLogger("onward.websocket")

CACHE_SIZE = 64  # store:false responses remembered per connection
CONNECTION_SECONDS = 60 * 60  # the spec's connection limit
TERMINAL = ("response.completed", "response.failed", "response.incomplete")
STREAM_ID = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_LIMIT = object()  # queue marker: the connection reached its time limit


@dataclass
class Cached:
    items: list[dict[str, Any]]  # the whole conversation: its history, its input, its output
    call_ids: set[str]  # the function calls in its output


class Gone(Exception):
    """The client is no longer there to send to."""


@router.websocket("/v1/responses")
async def responses_socket(ws: WebSocket) -> None:
    await ws.accept()
    await Session(ws).run()


class Session:
    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.svc = services(ws).responses  # type: ignore[arg-type]
        self.caller = caller_of(ws.headers.get("authorization"), bool(services(ws).settings.api_keys))  # type: ignore[arg-type]
        self.cache: OrderedDict[str, Cached] = OrderedDict()

    async def run(self) -> None:
        """Read frames into a queue; one worker runs the turns in order."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        worker = asyncio.create_task(self._work(queue))
        deadline: float | None = time.monotonic() + CONNECTION_SECONDS
        try:
            while True:
                try:
                    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                    message = await asyncio.wait_for(self.ws.receive(), timeout)
                except TimeoutError:
                    queue.put_nowait(_LIMIT)  # the worker ends the current turn, then says so and closes
                    deadline = None
                    continue
                if message["type"] == "websocket.disconnect":
                    return
                if deadline is not None:
                    queue.put_nowait(message.get("text") if message.get("text") is not None else message.get("bytes") or b"")
        finally:
            worker.cancel()  # the client left: stop the running turn (run_inline persists it)
            with contextlib.suppress(BaseException):
                await worker

    async def _work(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            frame = await queue.get()
            if frame is _LIMIT:
                await self._error(APIError(400, "This WebSocket connection reached its 60-minute limit; open a new one.", code="websocket_connection_limit_reached"), None)
                await self.ws.close(1000)
                return
            await self._turn(frame)

    # -- one turn ---------------------------------------------------------------------
    async def _turn(self, frame: str | bytes) -> None:
        stream_id: str | None = None
        previous: str | None = None
        status, seq = None, -1
        try:
            body = parse_json(frame.encode() if isinstance(frame, str) else frame)
            if not isinstance(body, dict):
                raise APIError(400, "Each WebSocket message must be a JSON object.", code="invalid_type")
            lane = body.get("stream_id")
            if lane is not None and not (isinstance(lane, str) and STREAM_ID.fullmatch(lane)):
                raise invalid("Invalid 'stream_id': use 1 to 256 characters from A-Z, a-z, 0-9, '_', '.', '-'.", "stream_id")
            stream_id = lane
            kind = body.pop("type", None)
            if kind != "response.create":
                if kind is None:
                    raise APIError(400, "Missing required parameter: 'type'.", param="type", code="missing_required_parameter")
                raise invalid(f"Unknown event type {kind!r}. This server accepts 'response.create'.", "type")
            if isinstance(body.get("previous_response_id"), str):
                previous = body["previous_response_id"]
            params = validate(CreateResponse, body)
            history, call_ids = await self._history(previous, params.model)
            if history is not None:
                _check_outputs(params.input, call_ids)
            prep = await self.svc.prepare(params, history=history, caller=self.caller)
            if prep.background:
                status = await self._follow(prep, stream_id)
            else:
                async for event in self.svc.run_inline(prep):
                    await self._send(encode(event), stream_id)
                    seq = event.sequence_number  # type: ignore[attr-defined]
                    if event.type in TERMINAL:
                        status = event.response["status"]
        except Gone:
            raise
        except Exception as exc:  # the client's mistake, or a bug: say so, keep the socket
            if not isinstance(exc, APIError):
                log.exception("websocket turn crashed")
                exc = APIError(500, f"The server had an error while processing your request ({type(exc).__name__}).", code="server_error")
            self._evict(previous)  # a failed continuation forgets what it continued
            await self._error(exc, stream_id, seq + 1 if seq >= 0 else None)
            return
        if status in (None, "failed", "cancelled"):
            self._evict(previous)
        elif not prep.store:
            output = prep.body["output"]
            self.cache[prep.body["id"]] = Cached((history or []) + prep.input_items + list(output), _call_ids(output))
            while len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)

    async def _follow(self, prep: Any, stream_id: str | None) -> str | None:
        """Background over a socket: queue it like HTTP does and stream its events to the end."""
        first = await self.svc.enqueue(prep)
        for _seq, data, _kind in first:
            await self._send(data, stream_id)
        status = None
        async for kind, data in self.svc.stream_stored(prep.body["id"], first[-1][0]):
            await self._send(data, stream_id)
            if kind in TERMINAL:
                status = orjson.loads(data)["response"]["status"]
        return status

    async def _history(self, previous: str | None, model: str | None) -> tuple[list[dict[str, Any]] | None, set[str]]:
        """The items a continuation builds on: this socket's cache first, then the store (the
        chain's tail that `model`'s window reaches, engine/history.py)."""
        if not previous:
            return None, set()
        cached = self.cache.get(previous)
        if cached is not None:
            self.cache.move_to_end(previous)
            return cached.items, cached.call_ids
        try:
            body = await self.svc.get(previous)  # waits for a write still in flight
        except APIError:
            body = None
        tail = await chain_tail(self.svc.store, self.svc.provider(model), previous) if body is not None else None
        if body is None or tail is None:
            raise APIError(400, f"Previous response with id '{previous}' not found.", param="previous_response_id", code="previous_response_not_found")
        return tail.items, _call_ids(body.get("output") or [])

    def _evict(self, previous: str | None) -> None:
        if previous:
            self.cache.pop(previous, None)

    # -- sending ----------------------------------------------------------------------
    async def _send(self, data: bytes, stream_id: str | None) -> None:
        if stream_id is not None:
            payload = orjson.loads(data)
            payload["stream_id"] = stream_id
            data = orjson.dumps(payload)
        try:
            await self.ws.send_text(data.decode())
        except Exception as exc:
            raise Gone from exc

    async def _error(self, exc: APIError, stream_id: str | None, seq: int | None = None) -> None:
        """The spec's WebSocket error envelope: status plus a nested error object; a
        sequence_number only when the error ends a stream that had begun."""
        error = {"type": exc.type, "code": exc.code or exc.type, "message": exc.message, "param": exc.param}
        payload: dict[str, Any] = {"type": "error", "status": exc.status, "error": error}
        if seq is not None:
            payload["sequence_number"] = seq
        await self._send(orjson.dumps(payload), stream_id)


def _call_ids(output: list[dict[str, Any]]) -> set[str]:
    return {item["call_id"] for item in output if item.get("type") == "function_call" and item.get("call_id")}


def _check_outputs(input_: Any, call_ids: set[str]) -> None:
    """Every function_call_output must answer a call of the previous response (or of this input)."""
    if not isinstance(input_, list):
        return
    known = call_ids | {i.get("call_id") for i in input_ if isinstance(i, dict) and i.get("type") == "function_call"}
    for n, item in enumerate(input_):
        if isinstance(item, dict) and item.get("type") == "function_call_output" and isinstance(item.get("call_id"), str) and item["call_id"] not in known:
            raise invalid(f"No tool call found for function call output with call_id '{item['call_id']}' in the previous response.", f"input[{n}].call_id")
