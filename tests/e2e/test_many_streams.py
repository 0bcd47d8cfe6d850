"""Hundreds of streams open at once through one `onward serve` all complete, each with its own
whole answer; and Onward really holds them open together upstream (no connection-pool cap
queues them). Figures (memory per stream, CPU per event) are in bench/streams."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx

from tests.conftest import ROOT, Server

STREAMS = 300
CHUNKS = 10
TEXT = " ".join("Hello there! This is a fixed reply from the fake upstream, used to measure proxy overhead only".split()[:CHUNKS])


def test_hundreds_of_concurrent_streams(tmp_path):
    # The upstream sends each stream's first event, then holds them all until STREAMS are open
    # at once (or 30 s pass): a cap in Onward shows as a lower peak, not as a timing.
    upstream = subprocess.Popen(
        [sys.executable, str(ROOT / "bench/overhead/fake_upstream.py"), "--port", "0", "--chunks", str(CHUNKS), "--chunk-delay", "0.02", "--hold-until", str(STREAMS), "--hold-timeout", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert upstream.stdout is not None
        port = int(upstream.stdout.readline().split()[1])
        toml = f'default = "slow"\n[models.slow]\nprovider = "chat_completions"\nbase_url = "http://127.0.0.1:{port}/v1"\nupstream_model = "fake"\n'
        srv = Server(tmp_path, f"sqlite:///{tmp_path / 'onward.db'}", toml).start()
        try:
            results = asyncio.run(_streams(srv))
            stats = httpx.get(f"http://127.0.0.1:{port}/stats").json()
        finally:
            srv.stop()
    finally:
        upstream.terminate()
        upstream.wait(10)
    assert stats["peak_streaming"] == STREAMS  # every stream was open upstream at the same time
    assert len(results) == STREAMS and len({r[0] for r in results}) == STREAMS
    for _response_id, text, sequence in results:
        assert text == TEXT
        assert sequence == list(range(len(sequence)))


async def _streams(srv: Server) -> list[tuple[str, str, list[int]]]:
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=STREAMS + 10, max_keepalive_connections=STREAMS + 10), timeout=120)
    client = srv.async_client(http_client=http)

    async def one() -> tuple[str, str, list[int]]:
        stream = await client.responses.create(model="slow", input="Say hello slowly.", stream=True)
        sequence, deltas, final = [], [], None
        async for event in stream:
            sequence.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.completed":
                final = event.response
        assert final is not None and final.status == "completed" and final.output_text == "".join(deltas)
        return final.id, final.output_text, sequence

    try:
        return await asyncio.gather(*(one() for _ in range(STREAMS)))
    finally:
        await http.aclose()
