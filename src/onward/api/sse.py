"""Server-sent events. Every event is framed whole (`event:`, `data:`, blank line) and never
split across writes; events that are ready together leave in one write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from ..engine.events import encode

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
_END = object()


def frame(event_type: str, data: bytes) -> bytes:
    return b"event: " + event_type.encode() + b"\ndata: " + data + b"\n\n"


async def frames(events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for event in events:
        yield frame(event.type, encode(event))
    yield DONE


async def coalesce(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Join the chunks that are already produced when the socket is ready for more.

    An upstream read often carries many tokens; sending each event as its own write costs a
    syscall and an ASGI round trip apiece. A producer task runs ahead; each write takes
    whatever it has queued. Latency is unchanged: nothing waits for more to arrive."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for chunk in chunks:
                queue.put_nowait(chunk)
        except BaseException as exc:  # hand the failure to the writer's side
            queue.put_nowait(exc)
            return
        queue.put_nowait(_END)

    task = asyncio.create_task(pump())
    try:
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            end = batch[-1] is _END or isinstance(batch[-1], BaseException)
            data = [b for b in batch if isinstance(b, bytes)]
            if data:
                yield b"".join(data)
            if isinstance(batch[-1], BaseException) and not isinstance(batch[-1], asyncio.CancelledError):
                raise batch[-1]
            if end:
                return
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except BaseException:
                pass
        else:
            await chunks.aclose() if hasattr(chunks, "aclose") else None


def sse(chunks: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(coalesce(chunks), media_type="text/event-stream", headers=HEADERS)
