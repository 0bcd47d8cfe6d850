"""api.sse.SSEResponse at the ASGI level: coalesced writes, a clean end, a client that leaves."""

from __future__ import annotations

import asyncio

import pytest

from onward.api.sse import DONE, SSEResponse


def _run(coro):
    return asyncio.run(coro)


def test_events_flow_whole_and_the_stream_ends():
    sent: list[dict] = []

    async def chunks():
        for i in range(5):
            yield b"event: e\ndata: %d\n\n" % i
            await asyncio.sleep(0)
        yield DONE

    async def receive():
        await asyncio.sleep(3600)  # the client stays

    async def send(message):
        sent.append(message)

    _run(SSEResponse(chunks())({"type": "http"}, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in sent[0]["headers"]
    body = b"".join(m["body"] for m in sent[1:])
    assert body == b"".join(b"event: e\ndata: %d\n\n" % i for i in range(5)) + DONE
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert all(m["more_body"] for m in sent[1:-1])


def test_a_client_that_leaves_stops_the_producer():
    state = {"made": 0, "closed": False}

    async def chunks():
        try:
            while True:
                state["made"] += 1
                yield b"data: x\n\n"
                await asyncio.sleep(0.001)
        finally:
            state["closed"] = True  # run_inline's `finally` persists the cancelled response here

    async def main():
        sent: list[dict] = []
        gone = asyncio.Event()

        async def receive():
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if len(sent) == 4:
                gone.set()

        await asyncio.wait_for(SSEResponse(chunks())({"type": "http"}, receive, send), 5)
        return sent

    sent = _run(main())
    assert state["closed"] and state["made"] >= 3
    assert not any(m.get("more_body") is False for m in sent)  # never told the client it ended


def test_a_failing_producer_fails_the_reply():
    async def chunks():
        yield b"data: x\n\n"
        raise RuntimeError("boom")

    async def receive():
        await asyncio.sleep(3600)

    async def send(message):
        pass

    with pytest.raises(RuntimeError, match="boom"):
        _run(SSEResponse(chunks())({"type": "http"}, receive, send))


def test_engine_events_are_framed_as_frames_would():
    from onward.api.sse import frame, sse_events
    from onward.engine.events import WireEvent, encode

    def events():
        async def gen():
            for n in range(3):
                yield WireEvent({"delta": str(n), "item_id": "msg_1", "sequence_number": n, "type": "response.output_text.delta"})

        return gen()

    async def collect(response):
        sent: list[dict] = []

        async def receive():
            await asyncio.sleep(3600)

        async def send(message):
            sent.append(message)

        await response({"type": "http"}, receive, send)
        return b"".join(m.get("body", b"") for m in sent)

    async def framed():
        return b"".join([frame(e.type, encode(e)) async for e in events()]) + DONE

    body = _run(collect(sse_events(events())))
    assert body == _run(framed())
    assert body.startswith(b'event: response.output_text.delta\ndata: {"delta":"0"') and body.endswith(DONE)
