"""Numbering, live fan-out and buffering of a run's `thread.*` events.

Every event is stored (run_id, seq) so a stream can be followed from any process; the
process executing a run also keeps the frames of the current execution in memory so local
followers never wait for a flush.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import orjson

STOP = {
    "thread.run.completed",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.expired",
    "thread.run.incomplete",
    "thread.run.requires_action",
}
DONE = b"event: done\ndata: [DONE]\n\n"


def frame(name: str, data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return b"event: " + name.encode() + b"\ndata: " + raw + b"\n\n"


def error_frame(code: str, message: str, param: str | None = None) -> bytes:
    """The SDK raises on `event: error` whose data has a nested `error`."""
    err = {"message": message, "type": "server_error" if code == "server_error" else "invalid_request_error", "code": code, "param": param}
    return frame("error", orjson.dumps({"error": err, **err}))


class RunHub:
    def __init__(self) -> None:
        self.subs: dict[str, set[asyncio.Queue[tuple[int, str, bytes] | None]]] = defaultdict(set)
        self.backlog: dict[str, list[tuple[int, str, bytes]]] = {}
        self.running: set[str] = set()

    def subscribe(self, run_id: str) -> asyncio.Queue[tuple[int, str, bytes] | None]:
        queue: asyncio.Queue[tuple[int, str, bytes] | None] = asyncio.Queue()
        self.subs[run_id].add(queue)
        return queue

    def unsubscribe(self, run_id: str, queue: asyncio.Queue) -> None:
        subs = self.subs.get(run_id)
        if subs is not None:
            subs.discard(queue)
            if not subs:
                del self.subs[run_id]

    def publish(self, run_id: str, seq: int, name: str, data: bytes) -> None:
        if run_id in self.backlog:
            self.backlog[run_id].append((seq, name, data))
        for queue in self.subs.get(run_id, ()):
            queue.put_nowait((seq, name, data))

    def close(self, run_id: str) -> None:
        for queue in self.subs.get(run_id, ()):
            queue.put_nowait(None)


class Held:
    """Stands in for the hub while events wait for their write to succeed."""

    def publish(self, *_args: Any) -> None:
        return None


class Emitter:
    """Numbers one writer's events for a run; `take()` hands the unsaved ones to the store."""

    def __init__(self, hub: RunHub, run_id: str, next_seq: int) -> None:
        self.hub = hub
        self.run_id = run_id
        self.seq = next_seq
        self.pending: list[tuple[int, str, bytes]] = []

    def emit(self, name: str, obj: Any) -> None:
        data = orjson.dumps(obj)
        self.pending.append((self.seq, name, data))
        self.hub.publish(self.run_id, self.seq, name, data)
        self.seq += 1

    def take(self) -> list[tuple[int, str, bytes]]:
        out, self.pending = self.pending, []
        return out
