"""A fast fake OpenAI Chat Completions upstream, for measuring what a proxy in front of it adds.

A bare asyncio protocol (uvloop + httptools, no ASGI framework): every reply is built once at
start-up, so serving one costs a few microseconds of parsing and one `transport.write`.

    POST /v1/chat/completions   {"stream": true}  -> a fixed SSE reply: a role chunk, N content
                                                     chunks, a finish chunk, a usage chunk, [DONE]
                                {"stream": false} -> a fixed chat.completion JSON with usage
    GET  /v1/models, /health    -> small JSON
    GET  /stats                 -> {"connections": opened so far, "open": now, "requests": served,
                                    "streaming": streams being sent now, "peak_streaming": most at once}
                                   (tells whether the client in front reuses its connections, and
                                   how many streams it really keeps open upstream at once)
    anything else               -> 404

Slow streams, for holding many open at once (bench/streams, tests/e2e/test_many_streams.py):
    --chunks N          content chunks per streamed reply (default 20)
    --chunk-delay S     seconds between two events of a streamed reply (default 0: all at once)
    --hold-until N      send the first event, then hold every stream until N are open together
                        (or --hold-timeout seconds pass), so that a cap in the client in front
                        shows up as `peak_streaming` < N rather than as a timing

Run: python bench/overhead/fake_upstream.py --port 0   (prints "READY <port>" once listening)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

import httptools
import orjson

MODEL = "fake"
CREATED = int(time.time())
COMPLETION_ID = "chatcmpl-bench0000000000000000"


def _words(n: int) -> list[str]:
    base = "Hello there! This is a fixed reply from the fake upstream, used to measure proxy overhead only".split()
    return [(" " if i else "") + base[i % len(base)] for i in range(n)]


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
    obj: dict = {"id": COMPLETION_ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL}
    obj["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else []
    if usage is not None:
        obj["usage"] = usage
    return orjson.dumps(obj)


def build_replies(chunks: int) -> tuple[bytes, bytes]:
    """(streaming reply, JSON reply), each a complete HTTP/1.1 response."""
    parts, completion = build_parts(chunks)
    return b"".join(parts), completion


def build_parts(chunks: int) -> tuple[list[bytes], bytes]:
    """(the streaming reply as [HTTP head + first event, each further event, ..., the last
    event + end of body], JSON reply)."""
    words = _words(chunks)
    text = "".join(words)
    usage = {"prompt_tokens": 12, "completion_tokens": len(words), "total_tokens": 12 + len(words)}
    events = [_chunk({"role": "assistant", "content": ""})]
    events += [_chunk({"content": w}) for w in words]
    events.append(_chunk({}, finish="stop"))
    events.append(_chunk({}, usage=usage, choices=False))
    body = b"".join(b"data: " + e + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    # One HTTP chunk per SSE event, as real servers flush them.
    framed = [b"%x\r\n%s\r\n" % (len(part) + 2, part + b"\n\n") for part in body.split(b"\n\n")[:-1]]
    framed[0] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n" + framed[0]
    framed[-1] += b"0\r\n\r\n"
    completion = orjson.dumps(
        {
            "id": COMPLETION_ID,
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": "stop"}],
            "usage": usage,
        }
    )
    return framed, _json_reply(200, completion)


def _json_reply(status: int, body: bytes) -> bytes:
    reason = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}[status]
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % (status, reason, len(body))
        + body
    )


STREAM, COMPLETION = build_replies(20)
STREAM_PARTS: list[bytes] = []  # set by main() when streams are paced
PACE = {"delay": 0.0, "hold_until": 0, "hold_timeout": 60.0}
ALL_OPEN = asyncio.Event()  # --hold-until: set once that many streams were open together
MODELS = _json_reply(200, orjson.dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "created": CREATED, "owned_by": "bench"}]}))
HEALTH = _json_reply(200, b'{"status":"ok"}')
NOT_FOUND = _json_reply(404, b'{"error":{"message":"not found","type":"invalid_request_error","code":"unknown_url"}}')
BAD = _json_reply(400, b'{"error":{"message":"invalid JSON body","type":"invalid_request_error","code":"invalid_json"}}')


STATS = {"connections": 0, "open": 0, "requests": 0, "streaming": 0, "peak_streaming": 0}


async def send_paced(transport: asyncio.Transport, keep_alive: bool) -> None:
    """One streamed reply, event by event, `PACE["delay"]` apart (after the --hold-until gate)."""
    STATS["streaming"] += 1
    STATS["peak_streaming"] = max(STATS["peak_streaming"], STATS["streaming"])
    if PACE["hold_until"] and STATS["streaming"] >= PACE["hold_until"]:
        ALL_OPEN.set()
    try:
        transport.write(STREAM_PARTS[0])
        if PACE["hold_until"]:
            try:
                await asyncio.wait_for(ALL_OPEN.wait(), PACE["hold_timeout"])
            except TimeoutError:
                pass
        for part in STREAM_PARTS[1:]:
            if PACE["delay"]:
                await asyncio.sleep(PACE["delay"])
            if transport.is_closing():
                return
            transport.write(part)
        if not keep_alive:
            transport.close()
    finally:
        STATS["streaming"] -= 1


TASKS: set[asyncio.Future] = set()


class Handler(asyncio.Protocol):
    __slots__ = ("transport", "parser", "url", "body")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        STATS["connections"] += 1
        STATS["open"] += 1
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []

    def connection_lost(self, exc: Exception | None) -> None:
        STATS["open"] -= 1

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        path = self.url.split(b"?", 1)[0].rstrip(b"/")
        method = self.parser.get_method()
        if method == b"POST" and path.endswith(b"/chat/completions"):
            STATS["requests"] += 1
            try:
                req = orjson.loads(b"".join(self.body))
                if req.get("stream") and STREAM_PARTS:
                    task = asyncio.ensure_future(send_paced(self.transport, self.parser.should_keep_alive()))
                    TASKS.add(task)
                    task.add_done_callback(TASKS.discard)
                    return
                reply = STREAM if req.get("stream") else COMPLETION
            except (orjson.JSONDecodeError, AttributeError):
                reply = BAD
        elif method == b"GET" and path.endswith(b"/models"):
            reply = MODELS
        elif method == b"GET" and path == b"/health":
            reply = HEALTH
        elif method == b"GET" and path == b"/stats":
            reply = _json_reply(200, orjson.dumps(STATS))
        else:
            reply = NOT_FOUND
        self.transport.write(reply)
        if not self.parser.should_keep_alive():
            self.transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Handler, host, port, backlog=4096, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")), help="0 picks a free port")
    ap.add_argument("--chunks", type=int, default=20, help="content chunks per streamed reply (default 20)")
    ap.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between the events of a streamed reply (default 0)")
    ap.add_argument("--hold-until", type=int, default=0, help="hold streams after their first event until this many are open at once")
    ap.add_argument("--hold-timeout", type=float, default=60.0, help="longest hold (seconds)")
    args = ap.parse_args(argv)
    global STREAM, COMPLETION, STREAM_PARTS
    parts, COMPLETION = build_parts(args.chunks)
    STREAM = b"".join(parts)
    if args.chunk_delay or args.hold_until:
        STREAM_PARTS = parts
        PACE.update(delay=args.chunk_delay, hold_until=args.hold_until, hold_timeout=args.hold_timeout)
    try:
        import uvloop

        uvloop.run(serve(args.host, args.port))
    except ImportError:  # pragma: no cover
        asyncio.run(serve(args.host, args.port))
    sys.exit(0)


if __name__ == "__main__":
    main()
