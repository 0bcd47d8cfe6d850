"""Server-sent events: each event is framed and flushed as ONE chunk."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel
from starlette.responses import StreamingResponse

from ..engine.events import encode

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def frame(event_type: str, data: bytes) -> bytes:
    return b"event: " + event_type.encode() + b"\ndata: " + data + b"\n\n"


async def frames(events: AsyncIterator[BaseModel]) -> AsyncIterator[bytes]:
    async for event in events:
        yield frame(event.type, encode(event))  # type: ignore[attr-defined]
    yield DONE


def sse(chunks: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream", headers=HEADERS)
