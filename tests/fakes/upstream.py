"""A fault-injecting fake OpenAI upstream: a real HTTP server on 127.0.0.1.

Serves `POST /v1/chat/completions` (streamed or not), `POST /v1/responses` (streamed or not) and
`GET /v1/models` with a scripted `Reply`, and injects `Fault`s one request at a time.

    base_url, control = start_fake_upstream()      # base_url = "http://127.0.0.1:PORT/v1"
    control.reply = Reply(text="Hi there", chunks=3)
    control.replies.append(Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')]))
    control.fail(429, times=2, retry_after="1")   # then the reply
    control.stall(5.0)                            # hold the next request (until the client hangs up)
    control.cut(after_chunks=1)                   # close the connection after 1 delta chunk
    control.requests[-1].body / .headers          # what the client sent
    control.reset(); control.close()

Out of process: `python -m tests.fakes.upstream --port 9100` serves a fast fixed reply (it prints
`READY <port> <base_url>` once listening; `--port 0` picks a free port), and
`POST /control` takes the same settings as `Control.configure` (JSON); `GET /control` returns
the recorded requests.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import uvicorn

DEFAULT_TEXT = "Hello from the fake upstream."


@dataclass
class ToolCall:
    name: str
    arguments: str = "{}"
    call_id: str | None = None  # default: call_<n>


@dataclass
class Reply:
    """What the fake model says. Text is streamed in `chunks` pieces, each call's arguments in
    `arg_chunks` pieces. `error` ({"code", "message"}) fails the stream after the deltas."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    chunks: int = 4
    arg_chunks: int = 3
    finish_reason: str | None = None  # default: "tool_calls" with calls, else "stop"
    prompt_tokens: int = 12
    completion_tokens: int | None = None  # default: the number of delta chunks
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    error: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        data = dict(data)
        data["tool_calls"] = [ToolCall(**c) for c in data.get("tool_calls") or []]
        return cls(**data)


@dataclass
class Fault:
    """Done to one request instead of (or in the middle of) its reply."""

    status: int | None = None  # answer with this HTTP status
    body: Any = None  # ... and this body (default: an OpenAI-shaped error)
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # wait this long (or until the client hangs up), then go on
    stall_after: int | None = None  # ... before the headers (None) or after this many deltas
    cut_after: int | None = None  # close the connection after this many delta chunks
    garbage_after: int | None = None  # send an unparseable chunk after this many deltas
    end_after: int | None = None  # end the stream cleanly, with no finish, after this many deltas


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    client_port: int | None  # the same port twice means a reused keep-alive connection


def _split(text: str, n: int) -> list[str]:
    if not text:
        return []
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


class Control:
    """The fake's script. Safe to change from the test's thread between requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def reset(self) -> None:
        with self._lock:
            self.reply = Reply(text=DEFAULT_TEXT)
            self.replies: deque[Reply] = deque()  # used first, one per request
            self.reply_fn: Callable[[str, Any], Reply | None] | None = None  # (path, body) -> Reply
            self.faults: deque[Fault] = deque()  # one per request, in order
            self.requests: list[Received] = []
            self.chunk_delay = 0.0  # seconds between delta chunks
            self.send_usage = True  # chat: honour stream_options.include_usage
            self.usage_with_finish = False  # chat: put usage on the finish_reason chunk
            self.send_done = True  # chat: end with `data: [DONE]`
            self.ignore_stream = False  # chat: answer with plain JSON even when asked to stream
            self.record = True  # keep every request in `requests` (off for long benchmarks)
            self.send_logprobs = True  # chat and responses: honour a request for logprobs

    # -- scripting ---------------------------------------------------------------------------
    def fail(self, status: int, times: int = 1, *, retry_after: str | None = None, body: Any = None) -> None:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        self.faults.extend(Fault(status=status, body=body, headers=headers) for _ in range(times))

    def stall(self, seconds: float, times: int = 1, *, after_chunks: int | None = None) -> None:
        self.faults.extend(Fault(stall=seconds, stall_after=after_chunks) for _ in range(times))

    def cut(self, after_chunks: int, times: int = 1) -> None:
        self.faults.extend(Fault(cut_after=after_chunks) for _ in range(times))

    def configure(self, data: dict[str, Any]) -> None:
        """Set up from JSON (the `/control` endpoint): reset, reply, replies, faults (each with an
        optional `times`), chunk_delay, send_usage, usage_with_finish, send_done, ignore_stream,
        record."""
        if data.get("reset"):
            self.reset()
        if "reply" in data:
            self.reply = Reply.from_dict(data["reply"])
        for reply in data.get("replies") or []:
            self.replies.append(Reply.from_dict(reply))
        for spec in data.get("faults") or []:
            spec = dict(spec)
            times = spec.pop("times", 1)
            self.faults.extend(Fault(**spec) for _ in range(times))
        for key in ("chunk_delay", "send_usage", "usage_with_finish", "send_done", "ignore_stream", "record", "send_logprobs"):
            if key in data:
                setattr(self, key, data[key])

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    def _next(self, path: str, body: Any) -> tuple[Reply, Fault | None]:
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
            if fault is not None and fault.status is not None:
                return self.reply, fault  # the reply is not consumed by an error status
            if self.replies:
                return self.replies.popleft(), fault
        reply = self.reply_fn(path, body) if self.reply_fn else None
        return reply or self.reply, fault

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


# -- wire formats -------------------------------------------------------------------------------
# Each reply becomes a list of (is_delta, payload) so faults can count delta chunks.


def _sse(obj: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + (obj if isinstance(obj, bytes) else orjson.dumps(obj)) + b"\n\n"


def _deltas(reply: Reply) -> int:
    return len(_split(reply.text, reply.chunks)) + sum(
        1 + len(_split(c.arguments, reply.arg_chunks)) for c in reply.tool_calls
    )


def _finish_reason(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _chat_usage(reply: Reply) -> dict[str, Any]:
    completion = reply.completion_tokens if reply.completion_tokens is not None else _deltas(reply)
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
    }


def _call_id(call: ToolCall, i: int) -> str:
    return call.call_id or f"call_{i}"


def fake_logprobs(piece: str, top: int) -> list[dict[str, Any]]:
    """A text piece as one token with made-up but well-formed log-probabilities: the token
    itself at -0.25, then alternatives `alt1`, `alt2`, ... at -1, -2, ... (`top` in all)."""
    alternatives = [{"token": piece, "bytes": list(piece.encode()), "logprob": -0.25}]
    alternatives += [{"token": f"alt{i}", "bytes": list(f"alt{i}".encode()), "logprob": -float(i)} for i in range(1, top)]
    return [{"token": piece, "bytes": list(piece.encode()), "logprob": -0.25, "top_logprobs": alternatives[:top]}]


def chat_logprobs(body: Any, control: Control) -> int | None:
    """The alternatives a chat request asks for, or None when it asks for no logprobs."""
    if not (control.send_logprobs and body.get("logprobs")):
        return None
    return int(body.get("top_logprobs") or 0)


def responses_logprobs(body: Any, control: Control) -> int | None:
    if not (control.send_logprobs and "message.output_text.logprobs" in (body.get("include") or [])):
        return None
    return int(body.get("top_logprobs") or 0)


def chat_stream(reply: Reply, model: str, control: Control, include_usage: bool, top: int | None = None) -> list[tuple[bool, bytes]]:
    include_usage = include_usage and control.send_usage
    base: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]})

    def text_logprobs(piece: str) -> Any:
        return None if top is None else {"content": fake_logprobs(piece, top), "refusal": None}

    out = [(False, chunk({"role": "assistant", "content": ""}))]
    out += [(True, chunk({"content": piece}, logprobs=text_logprobs(piece))) for piece in _split(reply.text, reply.chunks)]
    for i, call in enumerate(reply.tool_calls):
        head = {"index": i, "id": _call_id(call, i), "type": "function", "function": {"name": call.name, "arguments": ""}}
        out.append((True, chunk({"tool_calls": [head]})))
        for piece in _split(call.arguments, reply.arg_chunks):
            out.append((True, chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})))
    if reply.error:
        out.append((False, _sse({"error": reply.error})))
        return out
    if include_usage and control.usage_with_finish:
        out.append((False, _sse({**base, "usage": _chat_usage(reply), "choices": [{"index": 0, "delta": {}, "finish_reason": _finish_reason(reply)}]})))
    else:
        out.append((False, chunk({}, _finish_reason(reply))))
        if include_usage:
            out.append((False, _sse({**base, "choices": [], "usage": _chat_usage(reply)})))
    if control.send_done:
        out.append((False, b"data: [DONE]\n\n"))
    return out


def chat_json(reply: Reply, model: str, top: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": _call_id(c, i), "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(reply), "logprobs": None if top is None or not reply.text else {"content": fake_logprobs(reply.text, top)}}],
        "usage": _chat_usage(reply),
    }


def _response_object(reply: Reply, model: str, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "resp_fake",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "incomplete_details": None,
        "error": None,
        "usage": None,
    }
    if status in ("completed", "incomplete"):
        completion = reply.completion_tokens if reply.completion_tokens is not None else _deltas(reply)
        obj["usage"] = {
            "input_tokens": reply.prompt_tokens,
            "input_tokens_details": {"cached_tokens": reply.cached_tokens},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
            "total_tokens": reply.prompt_tokens + completion,
        }
    if status == "incomplete":
        reason = "content_filter" if reply.finish_reason == "content_filter" else "max_output_tokens"
        obj["incomplete_details"] = {"reason": reason}
    return obj


def _responses_output(reply: Reply) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = []
    if reply.text:
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        output.append({"id": "msg_fake", "type": "message", "role": "assistant", "status": "completed", "content": [part]})
    for i, c in enumerate(reply.tool_calls):
        output.append({"id": f"fc_{i}", "type": "function_call", "status": "completed", "call_id": _call_id(c, i), "name": c.name, "arguments": c.arguments})
    return output


def responses_stream(reply: Reply, model: str, top: int | None = None) -> list[tuple[bool, bytes]]:
    seq = 0
    out: list[tuple[bool, bytes]] = []

    def add(kind: str, is_delta: bool = False, /, **fields: Any) -> None:
        nonlocal seq
        out.append((is_delta, _sse({"type": kind, "sequence_number": seq, **fields}, kind)))
        seq += 1

    add("response.created", response=_response_object(reply, model, "in_progress", []))
    add("response.in_progress", response=_response_object(reply, model, "in_progress", []))
    final = _responses_output(reply)
    index = 0
    if reply.text:
        item = {**final[0], "status": "in_progress", "content": []}
        add("response.output_item.added", output_index=0, item=item)
        add("response.content_part.added", item_id="msg_fake", output_index=0, content_index=0, part={"type": "output_text", "text": "", "annotations": []})
        for piece in _split(reply.text, reply.chunks):
            lp = [] if top is None else [{k: v for k, v in e.items() if k != "bytes"} | {"top_logprobs": [{"token": t["token"], "logprob": t["logprob"]} for t in e["top_logprobs"]]} for e in fake_logprobs(piece, top)]
            add("response.output_text.delta", True, item_id="msg_fake", output_index=0, content_index=0, delta=piece, logprobs=lp)
        add("response.output_text.done", item_id="msg_fake", output_index=0, content_index=0, text=reply.text)
        add("response.content_part.done", item_id="msg_fake", output_index=0, content_index=0, part=final[0]["content"][0])
        add("response.output_item.done", output_index=0, item=final[0])
        index = 1
    for i, call in enumerate(reply.tool_calls):
        done = final[index + i]
        add("response.output_item.added", True, output_index=index + i, item={**done, "status": "in_progress", "arguments": ""})
        for piece in _split(call.arguments, reply.arg_chunks):
            add("response.function_call_arguments.delta", True, item_id=done["id"], output_index=index + i, delta=piece)
        add("response.function_call_arguments.done", item_id=done["id"], output_index=index + i, arguments=call.arguments)
        add("response.output_item.done", output_index=index + i, item=done)
    if reply.error:
        failed = _response_object(reply, model, "failed", final)
        failed["error"] = reply.error
        add("response.failed", response=failed)
    elif reply.finish_reason in ("length", "content_filter"):
        add("response.incomplete", response=_response_object(reply, model, "incomplete", final))
    else:
        add("response.completed", response=_response_object(reply, model, "completed", final))
    return out


# -- the ASGI app -------------------------------------------------------------------------------


class _QuietCuts(logging.Filter):
    """Cutting a response short is the point here, not an error worth logging."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietCuts())


async def _hold(receive: Any, seconds: float) -> bool:
    """Stall for `seconds`, or less if the client hangs up first (then return True)."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
        return True
    except TimeoutError:
        return False


async def _send_json(send: Any, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    payload = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else orjson.dumps(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def _error_body(status: int) -> dict[str, Any]:
    code = {429: "rate_limit_exceeded", 400: "invalid_request_error"}.get(status, "server_error")
    return {"error": {"message": f"fake upstream error {status}", "type": code, "param": None, "code": code}}


class FakeUpstreamApp:
    def __init__(self, control: Control) -> None:
        self.control = control

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        path = path[3:] if path.startswith("/v1/") else path
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        if path == "/models":
            await _send_json(send, 200, {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "fake"}]})
            return
        if path == "/control":
            if scope["method"] == "POST":
                self.control.configure(orjson.loads(raw or b"{}"))
            await _send_json(send, 200, {"requests": [asdict(r) for r in self.control.requests]})
            return
        if path not in ("/chat/completions", "/responses"):
            await _send_json(send, 404, {"error": {"message": f"no route {path}", "type": "not_found", "code": None}})
            return
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await _send_json(send, 400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error", "code": None}})
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        client = scope.get("client")
        if self.control.record:
            self.control.requests.append(Received(path, headers, body, client[1] if client else None))
        reply, fault = self.control._next(path, body)
        fault = fault or Fault()
        if fault.stall and fault.stall_after is None and await _hold(receive, fault.stall):
            return  # the client gave up waiting
        if fault.status is not None:
            await _send_json(send, fault.status, fault.body if fault.body is not None else _error_body(fault.status), fault.headers)
            return
        model = str(body.get("model") or "fake-model")
        chat = path == "/chat/completions"
        if not body.get("stream") or (chat and self.control.ignore_stream):
            doc = chat_json(reply, model, chat_logprobs(body, self.control)) if chat else _response_object(reply, model, "completed", _responses_output(reply))
            await _send_json(send, 200, doc)
            return
        if chat:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = chat_stream(reply, model, self.control, include_usage, chat_logprobs(body, self.control))
        else:
            events = responses_stream(reply, model, responses_logprobs(body, self.control))
        await self._stream(send, receive, events, fault)

    async def _stream(self, send: Any, receive: Any, events: list[tuple[bool, bytes]], fault: Fault) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        deltas = 0
        delay = self.control.chunk_delay
        for is_delta, payload in events:
            if deltas == fault.cut_after:
                return  # returning mid-body makes the server drop the connection
            if deltas == fault.garbage_after:
                await send({"type": "http.response.body", "body": b"data: {not json\n\n", "more_body": True})
                fault.garbage_after = None
            if deltas == fault.end_after:
                break
            if deltas == fault.stall_after and fault.stall:
                if await _hold(receive, fault.stall):
                    return
                fault.stall = 0.0
            await send({"type": "http.response.body", "body": payload, "more_body": True})
            if is_delta:
                deltas += 1
                if delay:
                    await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connectable (queued) from here on, before the server loop starts
    return sock


def _server(control: Control, **kw: Any) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(FakeUpstreamApp(control), access_log=False, lifespan="off", timeout_graceful_shutdown=2, **kw)
    )


def start_fake_upstream(control: Control | None = None) -> tuple[str, Control]:
    """Serve the fake in a background thread on a free port; returns (base_url ending in /v1, control)."""
    control = control or Control()
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = _server(control, log_config=None, log_level="warning")  # leave the run's logging alone
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-upstream")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake upstream did not start")
        time.sleep(0.005)
    control._server, control._thread = server, thread
    return f"http://127.0.0.1:{port}/v1", control


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI upstream serving a fast fixed reply.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--text", default=DEFAULT_TEXT)
    parser.add_argument("--chunks", type=int, default=8, help="delta chunks per reply")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--record", action="store_true", help="keep requests for GET /control")
    args = parser.parse_args()
    control = Control()
    control.record = args.record
    control.reply = Reply(text=args.text, chunks=args.chunks)
    control.chunk_delay = args.delay
    sock = _bind(args.host, args.port)  # --port 0 picks a free port, announced on stdout
    port = sock.getsockname()[1]
    print(f"READY {port} http://{args.host}:{port}/v1", flush=True)
    _server(control, log_level="warning").run(sockets=[sock])


if __name__ == "__main__":
    main()
