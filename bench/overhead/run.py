"""What does Onward add on top of the model server behind it?

Starts a fast fake Chat Completions upstream and `onward serve` in front of it (subprocesses,
free ports, a temporary data dir with SQLite), then measures, in one run, the same logical
request sent

  * directly to the upstream's /v1/chat/completions (stream and non-stream), and
  * through Onward's POST /v1/responses (stream and non-stream; store=true, the default, and
    store=false),

at each concurrency level: latency (p50/p99; for streams also time to the first event and to
the first text delta), throughput, CPU time per request of the Onward server (whole process and
its event-loop thread), of the fake upstream and of the load generator, and how many upstream
connections Onward opened per request.

    .venv/bin/python bench/overhead/run.py [--requests N] [--concurrency 1,32] [--json out.json]
                                           [--profile DIR [--profile-concurrency C]]

See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for common
import common  # noqa: E402

HERE = Path(__file__).resolve().parent
PROMPT = "Say hello in one short sentence."

# The aims, and the peer to beat
AIM_ADDED_P50_MS = 2.0  # median added latency at concurrency 1
AIM_THROUGHPUT_RATIO = 0.5  # Onward req/s at the highest concurrency >= 0.5 x direct
LITELLM_CPU_MS = 9.0  # LiteLLM's CPU per bridged /v1/responses request


# -- CPU clocks -----------------------------------------------------------------------------
def thread_cpu(pid: int, tid: int | None = None) -> float:
    """CPU seconds of one thread (default: the main thread, which runs the event loop)."""
    try:
        with open(f"/proc/{pid}/task/{tid or pid}/schedstat", "rb") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


# -- processes ------------------------------------------------------------------------------
@dataclass
class Servers:
    tmp: Path
    upstream: subprocess.Popen
    upstream_port: int
    onward: subprocess.Popen
    onward_port: int
    onward_log: Path
    clocks: dict[str, common.ProcClock] = field(default_factory=dict)
    stats_client: httpx.Client = field(default_factory=httpx.Client)  # keep-alive: adds no upstream connections

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"

    @property
    def onward_url(self) -> str:
        return f"http://127.0.0.1:{self.onward_port}"


def start_servers(tmp: Path, onward_cmd: str) -> Servers:
    up = subprocess.Popen(
        [sys.executable, str(HERE / "fake_upstream.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = up.stdout.readline().strip() if up.stdout else ""
    if not line.startswith("READY"):
        up.kill()
        raise SystemExit(f"fake upstream did not start: {line!r}")
    up_port = int(line.split()[1])

    models = tmp / "models.toml"
    models.write_text(
        'default = "fast"\n'
        "[models.fast]\n"
        'provider = "chat_completions"\n'
        f'base_url = "http://127.0.0.1:{up_port}/v1"\n'
        'upstream_model = "fake"\n'
        "context_window = 128000\n"
    )
    try:
        onward = common.start_onward(onward_cmd, tmp, models, f"sqlite:///{tmp / 'bench.db'}", tmp / "onward.log")
    except SystemExit:
        common.stop_procs([up], timeout=10)
        raise
    assert onward.clock is not None
    return Servers(tmp, up, up_port, onward.proc, onward.port, onward.log, {"onward": onward.clock, "upstream": common.ProcClock(up.pid)})


def stop_servers(servers: Servers) -> None:
    common.stop_procs([servers.onward, servers.upstream], timeout=10)
    servers.stats_client.close()


# -- the requests ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    target: str  # "direct" | "onward"
    stream: bool
    payload: bytes
    baseline: str | None = None  # the direct variant it is compared with


def variants() -> list[Variant]:
    def direct(stream: bool) -> bytes:
        body: dict[str, Any] = {"model": "fake", "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return json.dumps(body).encode()

    def onward(stream: bool, store: bool | None) -> bytes:
        body: dict[str, Any] = {"model": "fast", "input": PROMPT, "stream": stream}
        if store is not None:
            body["store"] = store
        return json.dumps(body).encode()

    return [
        Variant("direct_json", "direct  json", "direct", False, direct(False)),
        Variant("direct_sse", "direct  stream", "direct", True, direct(True)),
        Variant("onward_json", "onward  json", "onward", False, onward(False, None), "direct_json"),
        Variant("onward_sse", "onward  stream", "onward", True, onward(True, None), "direct_sse"),
        Variant("onward_json_nostore", "onward  json   store=false", "onward", False, onward(False, False), "direct_json"),
        Variant("onward_sse_nostore", "onward  stream store=false", "onward", True, onward(True, False), "direct_sse"),
    ]


@dataclass
class Sample:
    total: float  # seconds to the last byte
    first: float | None = None  # to the first body bytes (streams)
    token: float | None = None  # to the first text delta (streams)


HEADERS = {"content-type": "application/json", "accept-encoding": "identity"}
TOKEN_MARK = {"direct": b'"delta":{"content":', "onward": b"response.output_text.delta"}
DONE_MARK = {"direct": b'"finish_reason":"stop"', "onward": b'"type":"response.completed"'}
END_MARK = b"data: [DONE]"


class Bad(Exception):
    pass


async def one(client: httpx.AsyncClient, url: str, v: Variant) -> Sample:
    t0 = time.perf_counter()
    if not v.stream:
        r = await client.post(url, content=v.payload, headers=HEADERS)
        t = time.perf_counter() - t0
        if r.status_code != 200 or (b'"status":"completed"' not in r.content and b'"finish_reason":"stop"' not in r.content):
            raise Bad(f"{v.key}: HTTP {r.status_code} {r.content[:300]!r}")
        return Sample(t)
    first = token = None
    done = False
    tail = b""
    async with client.stream("POST", url, content=v.payload, headers=HEADERS) as r:
        if r.status_code != 200:
            await r.aread()
            raise Bad(f"{v.key}: HTTP {r.status_code} {r.content[:300]!r}")
        mark, dmark = TOKEN_MARK[v.target], DONE_MARK[v.target]
        async for chunk in r.aiter_raw():
            if first is None:
                first = time.perf_counter() - t0
            if token is None and mark in chunk:
                token = time.perf_counter() - t0
            if not done and dmark in chunk:
                done = True
            tail = (tail + chunk)[-64:]
    t = time.perf_counter() - t0
    if not done or END_MARK not in tail:
        raise Bad(f"{v.key}: stream did not complete (tail {tail[-200:]!r})")
    return Sample(t, first, token if token is not None else t)


def url_of(servers: Servers, v: Variant) -> str:
    if v.target == "direct":
        return servers.upstream_url + "/v1/chat/completions"
    return servers.onward_url + "/v1/responses"


@dataclass
class Batch:
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    onward_cpu: float = 0.0
    onward_loop_cpu: float = 0.0  # the main thread: the event loop
    upstream_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    upstream_conns: int = 0
    errors: Counter = field(default_factory=Counter)

    def add(self, other: Batch) -> None:
        self.samples += other.samples
        for name in ("wall", "onward_cpu", "onward_loop_cpu", "upstream_cpu", "client_cpu", "machine_cpu", "upstream_conns"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.update(other.errors)


def upstream_stats(servers: Servers) -> dict[str, int]:
    try:
        return servers.stats_client.get(servers.upstream_url + "/stats", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return {"connections": 0}


async def run_batch(clients: list[httpx.AsyncClient], servers: Servers, v: Variant, n: int, concurrency: int) -> Batch:
    """`n` requests from `concurrency` workers, each with its own one-connection keep-alive client."""
    url = url_of(servers, v)
    batch = Batch()
    todo = iter(range(n))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in todo:
            try:
                batch.samples.append(await one(client, url, v))
            except (Bad, httpx.HTTPError) as exc:
                batch.errors[f"{type(exc).__name__}: {str(exc)[:200]}"] += 1

    on, up = servers.clocks["onward"], servers.clocks["upstream"]
    conns0 = upstream_stats(servers)["connections"]
    cpu0 = (on(), thread_cpu(servers.onward.pid), up(), time.process_time(), common.machine_busy())
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients[:concurrency]))
    batch.wall = time.perf_counter() - t0
    cpu1 = (on(), thread_cpu(servers.onward.pid), up(), time.process_time(), common.machine_busy())
    batch.onward_cpu, batch.onward_loop_cpu, batch.upstream_cpu, batch.client_cpu, batch.machine_cpu = (
        b - a for a, b in zip(cpu0, cpu1, strict=True)
    )
    batch.upstream_conns = upstream_stats(servers)["connections"] - conns0
    return batch


# -- statistics -----------------------------------------------------------------------------
def summarize(v: Variant, b: Batch, concurrency: int) -> dict[str, Any]:
    n = len(b.samples)
    totals = [s.total for s in b.samples]
    ours = b.onward_cpu + b.upstream_cpu + b.client_cpu
    out: dict[str, Any] = {
        "variant": v.key,
        "label": v.label,
        "target": v.target,
        "stream": v.stream,
        "concurrency": concurrency,
        "requests": n,
        "errors": sum(b.errors.values()),
        "error_samples": dict(b.errors.most_common(3)),
        "wall_s": b.wall,
        "rps": n / b.wall if b.wall else 0.0,
        "p50_ms": common.pct(totals, 50) * 1e3,
        "p90_ms": common.pct(totals, 90) * 1e3,
        "p99_ms": common.pct(totals, 99) * 1e3,
        "max_ms": max(totals) * 1e3 if totals else float("nan"),
        "mean_ms": statistics.fmean(totals) * 1e3 if totals else float("nan"),
        "onward_cpu_ms_per_req": b.onward_cpu / n * 1e3 if n and v.target == "onward" else None,
        "onward_loop_cpu_ms_per_req": b.onward_loop_cpu / n * 1e3 if n and v.target == "onward" else None,
        "onward_cores": b.onward_cpu / b.wall if b.wall and v.target == "onward" else None,
        "onward_loop_busy": b.onward_loop_cpu / b.wall if b.wall and v.target == "onward" else None,
        "upstream_cpu_us_per_req": b.upstream_cpu / n * 1e6 if n else None,
        "upstream_conns_per_req": b.upstream_conns / n if n else None,
        "client_cpu_ms_per_req": b.client_cpu / n * 1e3 if n else None,
        "client_cores": b.client_cpu / b.wall if b.wall else None,
        "other_cores": max(0.0, b.machine_cpu - ours) / b.wall if b.wall else None,  # other processes
    }
    if v.stream:
        firsts = [s.first for s in b.samples if s.first is not None]
        tokens = [s.token for s in b.samples if s.token is not None]
        out["first_event_p50_ms"] = common.pct(firsts, 50) * 1e3
        out["first_event_p99_ms"] = common.pct(firsts, 99) * 1e3
        out["first_token_p50_ms"] = common.pct(tokens, 50) * 1e3
        out["first_token_p99_ms"] = common.pct(tokens, 99) * 1e3
    return out


def add_comparisons(rows: dict[str, dict[str, Any]], vs: list[Variant]) -> None:
    for v in vs:
        if not v.baseline:
            continue
        row, base = rows[v.key], rows[v.baseline]
        row["added_p50_ms"] = row["p50_ms"] - base["p50_ms"]
        row["added_p99_ms"] = row["p99_ms"] - base["p99_ms"]
        if v.stream:
            row["added_first_token_p50_ms"] = row["first_token_p50_ms"] - base["first_token_p50_ms"]
        row["throughput_ratio"] = row["rps"] / base["rps"] if base["rps"] else float("nan")


# -- the run --------------------------------------------------------------------------------
def make_clients(count: int) -> list[httpx.AsyncClient]:
    # One keep-alive connection per worker: httpx's shared pool costs O(connections) per request
    # (at 32 connections a single shared client is ~4x slower), which would cap the *direct*
    # baseline and flatter Onward.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=300)
    return [httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) for _ in range(count)]


async def measure(servers: Servers, vs: list[Variant], n: int, levels: list[int], rounds: int, warmup: int, say) -> dict[int, dict[str, dict[str, Any]]]:
    top = max(levels)
    clients = {"direct": make_clients(top), "onward": make_clients(top)}
    results: dict[int, dict[str, dict[str, Any]]] = {}
    try:
        say(f"warm-up: {warmup} requests per variant at concurrency 1, then {top * 3} at {top}")
        for v in vs:
            await run_batch(clients[v.target], servers, v, warmup, 1)
            await run_batch(clients[v.target], servers, v, top * 3, top)
        for c in levels:
            # Round-robin over the variants in `rounds` blocks, so that drift (other load on the
            # machine, a growing database) spreads over all of them.
            per = [n // rounds + (1 if i < n % rounds else 0) for i in range(rounds)]
            batches = {v.key: Batch() for v in vs}
            t0 = time.perf_counter()
            for size in per:
                for v in vs:
                    batches[v.key].add(await run_batch(clients[v.target], servers, v, size, c))
            rows = {v.key: summarize(v, batches[v.key], c) for v in vs}
            add_comparisons(rows, vs)
            results[c] = rows
            say(f"concurrency {c}: {n} requests x {len(vs)} variants in {time.perf_counter() - t0:.1f} s")
    finally:
        for group in clients.values():
            for cl in group:
                await cl.aclose()
    return results


def fmt(x: Any, digits: int = 2, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def render(console: Console, results: dict[int, dict[str, dict[str, Any]]], vs: list[Variant], meta: dict[str, Any]) -> list[str]:
    for c, rows in results.items():
        n = rows[vs[0].key]["requests"]
        t = Table(title=f"Concurrency {c} - {n} requests per row; ms unless noted", title_justify="left", header_style="bold")
        t.add_column("path", no_wrap=True)
        t.add_column("p50", justify="right")
        t.add_column("p99", justify="right")
        t.add_column("1st event\np50", justify="right")
        t.add_column("1st token\np50", justify="right")
        t.add_column("added\np50", justify="right")
        t.add_column("added\np99", justify="right")
        t.add_column("req/s", justify="right")
        t.add_column("vs\ndirect", justify="right")
        t.add_column("Onward CPU\nms/req", justify="right")
        t.add_column("loop\nbusy", justify="right")
        t.add_column("upstream\nconn/req", justify="right")
        t.add_column("client CPU\nms/req", justify="right")
        t.add_column("other\ncores", justify="right")
        t.add_column("err", justify="right")
        for v in vs:
            r = rows[v.key]
            added, ratio = r.get("added_p50_ms"), r.get("throughput_ratio")
            t.add_row(
                v.label,
                fmt(r["p50_ms"]),
                fmt(r["p99_ms"]),
                fmt(r.get("first_event_p50_ms")),
                fmt(r.get("first_token_p50_ms")),
                common.good(added < AIM_ADDED_P50_MS, fmt(added, signed=True)) if c == 1 and added is not None else fmt(added, signed=True),
                fmt(r.get("added_p99_ms"), signed=True),
                fmt(r["rps"], 0),
                common.good(ratio >= AIM_THROUGHPUT_RATIO, f"{ratio:.2f}x") if c > 1 and ratio is not None else fmt(ratio, 2),
                common.good(r["onward_cpu_ms_per_req"] < LITELLM_CPU_MS, fmt(r["onward_cpu_ms_per_req"])) if r["onward_cpu_ms_per_req"] is not None else "-",
                f"{100 * r['onward_loop_busy']:.0f}%" if r["onward_loop_busy"] is not None else "-",
                fmt(r["upstream_conns_per_req"], 2) if v.target == "onward" else "-",
                fmt(r["client_cpu_ms_per_req"]),
                fmt(r["other_cores"], 2),
                str(r["errors"]) if r["errors"] else "",
                end_section=v.key in ("direct_sse", "onward_sse"),
            )
        console.print(t)
        console.print()

    verdicts: list[str] = []
    if 1 in results:
        rows = results[1]
        compared = [rows[v.key] for v in vs if v.baseline]
        ok = all(r["added_p50_ms"] < AIM_ADDED_P50_MS for r in compared)
        verdicts.append(
            f"added latency @c=1: {'PASS' if ok else 'FAIL'} (aim: p50 < {AIM_ADDED_P50_MS:g} ms) - "
            f"store=true json {rows['onward_json']['added_p50_ms']:+.2f}, stream {rows['onward_sse']['added_p50_ms']:+.2f}; "
            f"store=false json {rows['onward_json_nostore']['added_p50_ms']:+.2f}, stream {rows['onward_sse_nostore']['added_p50_ms']:+.2f} ms"
        )
    high = [c for c in results if c > 1]
    if high:
        c = max(high)
        rows = results[c]
        ok = all(rows[v.key]["throughput_ratio"] >= AIM_THROUGHPUT_RATIO for v in vs if v.baseline)
        verdicts.append(
            f"throughput @c={c}: {'PASS' if ok else 'FAIL'} (aim: >= {AIM_THROUGHPUT_RATIO:g}x direct) - "
            f"store=true json {rows['onward_json']['throughput_ratio']:.2f}x, stream {rows['onward_sse']['throughput_ratio']:.2f}x; "
            f"store=false json {rows['onward_json_nostore']['throughput_ratio']:.2f}x, stream {rows['onward_sse_nostore']['throughput_ratio']:.2f}x"
        )
    cpu = [r["onward_cpu_ms_per_req"] for rows in results.values() for r in rows.values() if r["onward_cpu_ms_per_req"] is not None]
    if cpu:
        ok = max(cpu) < LITELLM_CPU_MS
        verdicts.append(
            f"Onward CPU per request: {'PASS' if ok else 'FAIL'} (peer: LiteLLM ~{LITELLM_CPU_MS:g} ms) - {min(cpu):.2f} to {max(cpu):.2f} ms "
            f"(so at most ~{1000 / max(cpu):.0f}-{1000 / min(cpu):.0f} req/s per core, client aside)"
        )
    for line in verdicts:
        common.print_verdict(console, line)
    up = [r["upstream_cpu_us_per_req"] for rows in results.values() for r in rows.values() if r["upstream_cpu_us_per_req"] is not None]
    if up:
        console.print(f"[dim]fake upstream CPU: {min(up):.0f}-{max(up):.0f} µs per request (not the bottleneck)[/]")
    other = max((r["other_cores"] or 0) for rows in results.values() for r in rows.values())
    if other > 0.2:
        console.print(f"[yellow]warning: other processes used up to {other:.2f} cores during a batch (see 'other cores'); figures are noisy[/]")
    console.print(f"[dim]{meta['machine']}. Client, Onward and the fake upstream share the machine; the client's own cost is in both columns.[/]")
    return verdicts


# -- optional profile -----------------------------------------------------------------------
PROFILE_RATE = 400  # samples per second


async def profile(servers: Servers, vs: list[Variant], out_dir: Path, n: int, concurrency: int, say) -> dict[str, Any]:
    """Sample the Onward process with py-spy while it serves `n` requests of each Onward variant."""
    spy = shutil.which("py-spy", path=str(common.VENV_BIN)) or shutil.which("py-spy")
    if not spy:
        say("[yellow]--profile: py-spy not found (.venv/bin/pip install py-spy); skipped[/]")
        return {}
    found: dict[str, Any] = {}
    clients = make_clients(concurrency)
    try:
        for v in vs:
            if v.target != "onward":
                continue
            raw = out_dir / f"{v.key}-c{concurrency}.txt"
            proc = await asyncio.create_subprocess_exec(
                # --gil: only the thread holding the GIL is sampled, i.e. Python work. Without it,
                # threads blocked inside C (aiosqlite workers waiting on their queue, SQLite's
                # busy-handler sleeps, uvloop's epoll) count as busy and drown the picture.
                spy, "record", "--pid", str(servers.onward.pid), "--rate", str(PROFILE_RATE), "--gil", "--format", "raw", "--output", str(raw),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
            await asyncio.sleep(1.0)  # let py-spy attach
            batch = await run_batch(clients, servers, v, n, concurrency)
            proc.send_signal(signal.SIGINT)
            _, err = await proc.communicate()
            if not raw.exists():
                say(f"[yellow]py-spy produced nothing for {v.key}: {err.decode()[-500:]}[/]")
                continue
            found[v.key] = {"raw": str(raw), "requests": len(batch.samples), "rate": PROFILE_RATE, **top_frames(raw)}
            say(f"profile {v.key} at concurrency {concurrency}: {raw}")
    finally:
        for cl in clients:
            await cl.aclose()
    return found


# Where a sample's time goes: the first rule (in this order) that matches a frame of its stack.
BUCKETS = [
    # SQLAlchemy runs its sync core in a greenlet whose stack does not show the caller.
    ("store: SQLAlchemy + aiosqlite", ("_persist_new (", "ResponseStore.", "sqlalchemy/", "aiosqlite/")),
    ("upstream call: httpx/httpcore/anyio + SSE parse", ("Upstream.stream (", "iter_sse (", "_ChatStream.")),
    ("response events: pydantic models + JSON", ("ResponseBuilder.", "encode (onward/engine/events", "model_dump", "model_validate", "BaseModel.__init__")),
    ("request: parse, validate, prepare", ("ResponsesService.prepare (", "validate (onward/api", "parse_json (", "Request.body (")),
    ("reply send: starlette + uvicorn", ("StreamingResponse.", "RequestResponseCycle.send (", "Response.__call__ (")),
    ("framework: fastapi/starlette routing, middleware", ("fastapi/", "starlette/")),
    ("HTTP server: uvicorn/httptools", ("httptools_impl.py",)),
    ("event loop (uvloop, C)", ("Runner.run (",)),
]


def bucket_of(frames: list[str]) -> str:
    if not frames:
        return "no Python frame (C code holding the GIL)"
    for name, marks in BUCKETS:
        if any(m in f for f in frames for m in marks):
            return name
    return "other"


def top_frames(raw: Path, k: int = 30) -> dict[str, Any]:
    """Self and inclusive sample counts per frame, from py-spy's collapsed stacks."""
    self_c: Counter = Counter()
    incl: Counter = Counter()
    pkgs: Counter = Counter()
    buckets: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        c = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        total += c
        buckets[bucket_of(frames)] += c
        if not frames:
            continue
        self_c[frames[-1]] += c
        for f in set(frames):
            incl[f] += c
        pkgs[_package_of(frames[-1])] += c
    own = [(f, c) for f, c in incl.most_common() if "(onward/" in f and "(onward/cli.py" not in f][:k]
    return {
        "samples": total,
        "onward_inclusive": own,
        "buckets": buckets.most_common(),
        "self": self_c.most_common(k),
        "inclusive": incl.most_common(k * 3),
        "by_package": pkgs.most_common(20),
    }


def _package_of(frame: str) -> str:
    path = frame[frame.rfind("(") + 1 : frame.rfind(")")] if "(" in frame else frame
    path = path.rsplit(":", 1)[0]
    return path.split("/")[0] if "/" in path else path


def render_profile(console: Console, prof: dict[str, Any]) -> None:
    for key, p in prof.items():
        total = max(1, p["samples"])
        per_req = 1e3 / p.get("rate", PROFILE_RATE) / max(1, p["requests"])  # ms of GIL time per sample per request
        t = Table(
            title=f"py-spy {key}: where the GIL time goes ({total * per_req:.2f} ms of GIL-held wall time per request while sampled)",
            title_justify="left",
        )
        t.add_column("share", justify="right")
        t.add_column("bucket")
        for name, c in p.get("buckets", []):
            t.add_row(f"{100 * c / total:.0f}%", name)
        console.print(t)
        t = Table(title=f"py-spy {key}: {p['samples']} samples over {p['requests']} requests - top self time", title_justify="left")
        t.add_column("self %", justify="right")
        t.add_column("function (file:line)")
        for f, c in p["self"][:15]:
            t.add_row(f"{100 * c / total:.1f}", f)
        console.print(t)
        t = Table(title=f"py-spy {key}: Onward's own functions - inclusive time", title_justify="left")
        t.add_column("incl %", justify="right")
        t.add_column("function (file:line)")
        for f, c in p.get("onward_inclusive", [])[:15]:
            t.add_row(f"{100 * c / total:.1f}", f)
        console.print(t)
        console.print("  by package: " + ", ".join(f"{m} {100 * c / total:.0f}%" for m, c in p["by_package"][:10]))
        console.print()


# -- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", "-n", type=int, default=1000, help="requests per variant per concurrency level (default 1000)")
    ap.add_argument("--concurrency", default="1,32", help="comma-separated levels (default 1,32)")
    ap.add_argument("--rounds", type=int, default=4, help="round-robin blocks per level (default 4)")
    ap.add_argument("--warmup", type=int, default=50, help="warm-up requests per variant (default 50)")
    ap.add_argument("--json", type=Path, help="save the results here")
    ap.add_argument("--profile", type=Path, metavar="DIR", help="afterwards, sample Onward with py-spy under load; collapsed stacks go to DIR")
    ap.add_argument("--profile-requests", type=int, default=1000)
    ap.add_argument("--profile-concurrency", help="comma-separated levels to profile at (default: the highest --concurrency)")
    ap.add_argument("--onward", default=str(common.VENV_BIN / "onward"), help="the onward executable (default: next to this python)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    ap.add_argument("--from-json", type=Path, metavar="FILE", help="only print the tables of a run saved with --json")
    args = ap.parse_args(argv)
    levels = sorted({int(x) for x in args.concurrency.split(",") if x.strip()})
    rounds = max(1, min(args.rounds, args.requests))

    console, say = common.make_console()
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": common.machine_info(),
        "requests": args.requests,
        "concurrency": levels,
        "rounds": rounds,
        "warmup": args.warmup,
        "argv": sys.argv,
    }
    vs = variants()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        render(console, {int(c): rows for c, rows in saved["results"].items()}, vs, saved["meta"])
        if saved.get("profile"):
            render_profile(console, saved["profile"])
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="onward-bench-"))
    servers = None
    t_start = time.perf_counter()
    try:
        servers = start_servers(tmp, args.onward)
        say(f"fake upstream :{servers.upstream_port} (pid {servers.upstream.pid}), onward :{servers.onward_port} (pid {servers.onward.pid}), data in {tmp}")
        results = common.run_async(measure(servers, vs, args.requests, levels, rounds, args.warmup, say))
        console.print()
        verdicts = render(console, results, vs, meta)
        prof: dict[str, Any] = {}
        if args.profile:
            console.print()
            args.profile.mkdir(parents=True, exist_ok=True)
            for pc in [int(x) for x in (args.profile_concurrency or str(max(levels))).split(",") if x.strip()]:
                got = common.run_async(profile(servers, vs, args.profile, args.profile_requests, pc, say))
                prof.update({f"{k}@c{pc}": p for k, p in got.items()})
            render_profile(console, prof)
        if args.json:
            out = {"meta": meta, "results": {str(c): rows for c, rows in results.items()}, "verdicts": verdicts, "profile": prof}
            common.save_json(args.json, out, say)
        errors = sum(r["errors"] for rows in results.values() for r in rows.values())
        if errors:
            console.print(f"[red]{errors} failed requests[/]: " + "; ".join(k for rows in results.values() for r in rows.values() for k in r["error_samples"]))
        say(f"total {time.perf_counter() - t_start:.0f} s")
        return 1 if errors else 0
    finally:
        if servers:
            stop_servers(servers)
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
