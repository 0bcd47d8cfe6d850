"""How many open streams can one Onward process hold, and what does each one cost?

Starts a slow fake Chat Completions upstream (bench/overhead/fake_upstream.py with a delay
between the events of a streamed reply) and one `onward serve` in front of it (SQLite, a
temporary data dir), then, for each level, opens that many streaming `POST /v1/responses` at
once and keeps them open while the upstream trickles their text. A fresh Onward and upstream
serve each level. It reports:

  * memory per open stream: Onward's RSS (VmRSS) while every stream is open, minus its RSS
    when idle after a warm-up, divided by the streams;
  * CPU per streamed event: Onward's CPU time (all threads) from the first request to the
    last event, divided by the SSE events the clients received;
  * whether every stream was open at once (client side and upstream side: a connection-pool
    cap in Onward would show as fewer streams open upstream) and every stream's errors.

    .venv/bin/python bench/streams/run.py [--streams 100,1000] [--chunks 20] [--chunk-delay 1.0]

See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/, for common
sys.path.insert(0, str(HERE.parent / "overhead"))  # the fake upstream's reply text
import common  # noqa: E402
import fake_upstream  # noqa: E402


def rss_kb(pid: int) -> int:
    """Resident memory of process `pid` in KiB (VmRSS from /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def raise_open_files(need: int) -> None:
    """This client holds one socket per stream: lift its soft limit on open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        raise SystemExit(f"{need} open files are needed and the hard limit is {hard}: raise it (ulimit -Hn) or pass fewer --streams")
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else hard, hard))


@dataclass
class Level:
    streams: int
    completed: int = 0
    events: int = 0
    open_now: int = 0
    peak_open: int = 0  # streams open (response.created received, not yet ended) at once
    opened_all_s: float | None = None  # from the first request until every stream was open
    errors: Counter = field(default_factory=Counter)


async def one_stream(session: aiohttp.ClientSession, url: str, payload: bytes, expected: str, lv: Level, t0: float) -> None:
    opened = False
    try:
        async with session.post(url, data=payload, headers={"content-type": "application/json"}) as r:
            if r.status != 200:
                lv.errors[f"HTTP {r.status}: {(await r.read())[:200]!r}"] += 1
                return
            buf = b""
            final: bytes | None = None
            async for chunk in r.content.iter_any():
                buf += chunk
                while b"\n\n" in buf:
                    event, buf = buf.split(b"\n\n", 1)
                    lv.events += 1
                    if not opened:
                        opened = True
                        lv.open_now += 1
                        lv.peak_open = max(lv.peak_open, lv.open_now)
                        if lv.peak_open == lv.streams and lv.opened_all_s is None:
                            lv.opened_all_s = time.perf_counter() - t0
                    if b"event: response.completed" in event:
                        final = event
            if final is None:
                lv.errors[f"no response.completed (tail {buf[-200:]!r})"] += 1
                return
            body = orjson.loads(final.split(b"data: ", 1)[1])
            text = "".join(c.get("text", "") for item in body["response"]["output"] for c in item.get("content", []))
            if text != expected:
                lv.errors[f"wrong text: {text[:80]!r}"] += 1
                return
            lv.completed += 1
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as exc:
        lv.errors[f"{type(exc).__name__}: {str(exc)[:200]}"] += 1
    finally:
        if opened:
            lv.open_now -= 1


async def upstream_stats(session: aiohttp.ClientSession, port: int) -> dict[str, int]:
    async with session.get(f"http://127.0.0.1:{port}/stats") as r:
        return await r.json()


async def run_level(onward: common.Server, slow_port: int, n: int, args: argparse.Namespace, say) -> dict[str, Any]:
    """Warm up on the fast route, read idle RSS, then open `n` streams on the slow one."""
    pid = onward.proc.pid
    clock = onward.clock
    assert clock is not None
    url = onward.url + "/v1/responses"
    expected = "".join(fake_upstream._words(args.chunks))
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        warm = Level(args.warmup)
        fast = orjson.dumps({"model": "fast", "input": "Say hello.", "stream": True, "store": args.store})
        fast_text = "".join(fake_upstream._words(20))
        for _ in range(3):
            await asyncio.gather(*(one_stream(session, url, fast, fast_text, warm, time.perf_counter()) for _ in range(args.warmup)))
        if warm.errors:
            raise SystemExit(f"warm-up failed: {dict(warm.errors)}")
        await asyncio.sleep(1.0)
        idle = rss_kb(pid)

        lv = Level(n)
        payload = orjson.dumps({"model": "slow", "input": "Say hello slowly.", "stream": True, "store": args.store})
        peak_rss = idle
        rss_all_open: list[int] = []

        async def sample() -> None:
            nonlocal peak_rss
            while True:
                value = rss_kb(pid)
                peak_rss = max(peak_rss, value)
                if lv.open_now == n:
                    rss_all_open.append(value)
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample())
        cpu0, busy0, client0 = clock(), common.machine_busy(), time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(one_stream(session, url, payload, expected, lv, t0) for _ in range(n)))
        wall = time.perf_counter() - t0
        cpu, busy, client = clock() - cpu0, common.machine_busy() - busy0, time.process_time() - client0
        sampler.cancel()
        stats = await upstream_stats(session, slow_port)
    held = max(rss_all_open) if rss_all_open else None
    say(f"{n} streams: {lv.completed} completed in {wall:.1f} s, {lv.events} events, {sum(lv.errors.values())} errors")
    return {
        "streams": n,
        "completed": lv.completed,
        "errors": sum(lv.errors.values()),
        "error_samples": dict(lv.errors.most_common(3)),
        "all_open_at_once": lv.peak_open == n,
        "peak_open_client": lv.peak_open,
        "peak_open_upstream": stats.get("peak_streaming"),
        "opened_all_s": lv.opened_all_s,
        "wall_s": wall,
        "events": lv.events,
        "events_per_stream": lv.events / n,
        "idle_rss_mb": idle / 1024,
        "open_rss_mb": held / 1024 if held else None,
        "peak_rss_mb": peak_rss / 1024,
        "kb_per_stream": (held - idle) / n if held else None,
        "onward_cpu_s": cpu,
        "cpu_us_per_event": cpu / lv.events * 1e6 if lv.events else None,
        "cpu_ms_per_stream": cpu / n * 1e3,
        "onward_cores": cpu / wall if wall else None,
        "client_cpu_s": client,
        "other_cores": max(0.0, busy - cpu - client) / wall if wall else None,
    }


def render(console, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    t = Table(
        title=f"Open streams through one Onward process - {meta['chunks']} text chunks {meta['chunk_delay']:g} s apart per stream (store={str(meta['store']).lower()})",
        title_justify="left",
        header_style="bold",
    )
    for name in ("streams", "all open\nat once", "open all\n(s)", "idle RSS\nMB", "RSS all\nopen MB", "KB per\nstream", "events", "Onward\nCPU s", "CPU µs\nper event", "CPU ms\nper stream", "Onward\ncores", "upstream\npeak open", "other\ncores", "err"):
        t.add_column(name, justify="right")
    for r in rows:
        t.add_row(
            str(r["streams"]),
            common.good(r["all_open_at_once"], "yes" if r["all_open_at_once"] else f"no ({r['peak_open_client']})"),
            f"{r['opened_all_s']:.1f}" if r["opened_all_s"] is not None else "-",
            f"{r['idle_rss_mb']:.0f}",
            f"{r['open_rss_mb']:.0f}" if r["open_rss_mb"] is not None else "-",
            f"{r['kb_per_stream']:.0f}" if r["kb_per_stream"] is not None else "-",
            str(r["events"]),
            f"{r['onward_cpu_s']:.1f}",
            f"{r['cpu_us_per_event']:.0f}" if r["cpu_us_per_event"] is not None else "-",
            f"{r['cpu_ms_per_stream']:.1f}",
            f"{r['onward_cores']:.2f}" if r["onward_cores"] is not None else "-",
            common.good(r["peak_open_upstream"] == r["streams"], str(r["peak_open_upstream"])),
            f"{r['other_cores']:.2f}" if r["other_cores"] is not None else "-",
            common.good(not r["errors"], str(r["errors"])),
        )
    console.print(t)
    for r in rows:
        if r["errors"]:
            console.print(f"[red]{r['streams']} streams: {r['errors']} errors[/]: " + "; ".join(r["error_samples"]))
    top = rows[-1]
    ok = top["errors"] == 0 and top["all_open_at_once"] and top["peak_open_upstream"] == top["streams"]
    common.print_verdict(
        console,
        f"{top['streams']} streams open at once in one process: {'PASS' if ok else 'FAIL'} - "
        f"{top['kb_per_stream'] or float('nan'):.0f} KB of RSS per open stream, {top['cpu_us_per_event'] or float('nan'):.0f} µs of CPU per streamed event",
    )
    console.print(f"[dim]{meta['machine']}. The client and the fake upstream share the machine with Onward.[/]")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", default="100,1000", help="comma-separated levels: streams open at once (default 100,1000)")
    ap.add_argument("--chunks", type=int, default=20, help="text chunks per stream (default 20)")
    ap.add_argument("--chunk-delay", type=float, default=1.0, help="seconds between two upstream events (default 1.0: a stream lasts ~chunks+3 s)")
    ap.add_argument("--warmup", type=int, default=20, help="concurrent fast streams, three times, before idle RSS is read (default 20)")
    ap.add_argument("--no-store", dest="store", action="store_false", help="send store=false (nothing written to the database)")
    ap.add_argument("--onward", default=str(common.VENV_BIN / "onward"), help="the onward executable (default: next to this python)")
    ap.add_argument("--json", type=Path, help="save the results here")
    ap.add_argument("--from-json", type=Path, metavar="FILE", help="only print the table of a run saved with --json")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = ap.parse_args(argv)
    console, say = common.make_console()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        render(console, saved["results"], saved["meta"])
        return 0
    levels = sorted({int(x) for x in args.streams.split(",") if x.strip()})
    raise_open_files(max(levels) + 256)
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": common.machine_info(), "chunks": args.chunks, "chunk_delay": args.chunk_delay, "store": args.store, "argv": sys.argv}
    tmp = Path(tempfile.mkdtemp(prefix="onward-streams-"))
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    try:
        for n in levels:
            procs: list[subprocess.Popen] = []
            try:
                slow, slow_port = common.start_fake_upstream("--chunks", str(args.chunks), "--chunk-delay", str(args.chunk_delay))
                procs.append(slow)
                fast, fast_port = common.start_fake_upstream()
                procs.append(fast)
                work = tmp / f"level-{n}"
                work.mkdir()
                models = work / "models.toml"
                models.write_text(
                    'default = "slow"\n'
                    f'[models.slow]\nprovider = "chat_completions"\nbase_url = "http://127.0.0.1:{slow_port}/v1"\nupstream_model = "fake"\ncontext_window = 128000\n'
                    f'[models.fast]\nprovider = "chat_completions"\nbase_url = "http://127.0.0.1:{fast_port}/v1"\nupstream_model = "fake"\ncontext_window = 128000\n'
                )
                onward = common.start_onward(args.onward, work, models, f"sqlite:///{work / 'bench.db'}", work / "onward.log")
                procs.insert(0, onward.proc)
                say(f"level {n}: onward :{onward.port} (pid {onward.proc.pid}), slow upstream :{slow_port}, fast upstream :{fast_port}")
                rows.append(common.run_async(run_level(onward, slow_port, n, args, say)))
            finally:
                common.stop_procs(procs, timeout=15)
        console.print()
        render(console, rows, meta)
        if args.json:
            common.save_json(args.json, {"meta": meta, "results": rows}, say)
        say(f"total {time.perf_counter() - t_start:.0f} s")
        return 1 if any(r["errors"] or not r["all_open_at_once"] for r in rows) else 0
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
