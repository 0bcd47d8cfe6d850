"""In-process fan-out of live events to the clients streaming a background response."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class Hub:
    def __init__(self) -> None:
        self._subs: dict[str, set[asyncio.Queue[tuple[int, bytes] | None]]] = defaultdict(set)

    def subscribe(self, response_id: str) -> asyncio.Queue[tuple[int, bytes] | None]:
        queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._subs[response_id].add(queue)
        return queue

    def unsubscribe(self, response_id: str, queue: asyncio.Queue) -> None:
        subs = self._subs.get(response_id)
        if subs is not None:
            subs.discard(queue)
            if not subs:
                del self._subs[response_id]

    def publish(self, response_id: str, seq: int, data: bytes) -> None:
        for queue in self._subs.get(response_id, ()):
            queue.put_nowait((seq, data))

    def close(self, response_id: str) -> None:
        for queue in self._subs.get(response_id, ()):
            queue.put_nowait(None)
