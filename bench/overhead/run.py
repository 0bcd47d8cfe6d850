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
                                           [--profile DIR [--profile-concurrency C] [--flame]]
                                           [--litellm]   (LiteLLM's proxy side by side: litellm_peer.py)

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for common
import common  # noqa: E402
import litellm_peer  # noqa: E402
from profiling import PROFILE_RATE, render_profile, top_frames  # noqa: E402
from report import ratio, render  # noqa: E402

HERE = Path(__file__).resolve().parent
PROMPT = "Say hello in one short sentence."

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
    litellm: common.Server | None = None

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"

    @property
    def onward_url(self) -> str:
        return f"http://127.0.0.1:{self.onward_port}"


def write_models(tmp: Path, up_port: int) -> Path:
    """A models file with one route, `fast`, to the fake upstream."""
    models = tmp / "models.toml"
    models.write_text(
        'default = "fast"\n'
        "[models.fast]\n"
        'provider = "chat_completions"\n'
        f'base_url = "http://127.0.0.1:{up_port}/v1"\n'
        'upstream_model = "fake"\n'
        "context_window = 128000\n"
    )
    return models


def start_servers(tmp: Path, onward_cmd: str, litellm_exe: Path | None = None) -> Servers:
    up, up_port = common.start_fake_upstream()
    models = write_models(tmp, up_port)
    try:
        onward = common.start_onward(onward_cmd, tmp, models, f"sqlite:///{tmp / 'bench.db'}", tmp / "onward.log")
    except SystemExit:
        common.stop_procs([up], timeout=10)
        raise
    assert onward.clock is not None
    servers = Servers(tmp, up, up_port, onward.proc, onward.port, onward.log, {"onward": onward.clock, "upstream": common.ProcClock(up.pid)})
    if litellm_exe is not None:
        try:
            servers.litellm = litellm_peer.start(litellm_exe, tmp, up_port, tmp / "litellm.log")
        except SystemExit:
            stop_servers(servers)
            raise
        assert servers.litellm.clock is not None
        servers.clocks["litellm"] = servers.litellm.clock
    return servers


def stop_servers(servers: Servers) -> None:
    common.stop_procs([servers.onward, servers.upstream] + ([servers.litellm.proc] if servers.litellm else []), timeout=10)
    servers.stats_client.close()


# -- the requests ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    target: str  # "direct" | "onward" | "litellm" (its /v1/responses) | "litellm_chat" (its /v1/chat/completions)
    stream: bool
    payload: bytes
    baseline: str | None = None  # the direct variant it is compared with
    peer_of: str | None = None  # a LiteLLM row: the Onward row it is set against

    @property
    def server(self) -> str | None:
        """The proxy process whose CPU the row measures (None: direct)."""
        return None if self.target == "direct" else self.target.split("_")[0]


def variants(litellm: bool = False) -> list[Variant]:
    def direct(stream: bool) -> bytes:
        body: dict[str, Any] = {"model": "fake", "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return json.dumps(body).encode()

    def chat(stream: bool) -> bytes:  # the direct request, to the proxy's model name
        return direct(stream).replace(b'"model": "fake"', b'"model": "fast"')

    def onward(stream: bool, store: bool | None) -> bytes:
        body: dict[str, Any] = {"model": "fast", "input": PROMPT, "stream": stream}
        if store is not None:
            body["store"] = store
        return json.dumps(body).encode()

    vs = [
        Variant("direct_json", "direct  json", "direct", False, direct(False)),
        Variant("direct_sse", "direct  stream", "direct", True, direct(True)),
        Variant("onward_json", "onward  json", "onward", False, onward(False, None), "direct_json"),
        Variant("onward_sse", "onward  stream", "onward", True, onward(True, None), "direct_sse"),
        Variant("onward_json_nostore", "onward  json   store=false", "onward", False, onward(False, False), "direct_json"),
        Variant("onward_sse_nostore", "onward  stream store=false", "onward", True, onward(True, False), "direct_sse"),
    ]
    if litellm:
        # LiteLLM keeps nothing without a database: its rows are set against Onward's store=true
        # rows (the aim) and, in the comparison table, also against store=false.
        vs += [
            Variant("litellm_json", "litellm json   /v1/responses", "litellm", False, onward(False, None), "direct_json", "onward_json"),
            Variant("litellm_sse", "litellm stream /v1/responses", "litellm", True, onward(True, None), "direct_sse", "onward_sse"),
            Variant("litellm_chat_json", "litellm json   /v1/chat/completions", "litellm_chat", False, chat(False), "direct_json"),
            Variant("litellm_chat_sse", "litellm stream /v1/chat/completions", "litellm_chat", True, chat(True), "direct_sse"),
        ]
    return vs


@dataclass
class Sample:
    total: float  # seconds to the last byte
    first: float | None = None  # to the first body bytes (streams)
    token: float | None = None  # to the first text delta (streams)


HEADERS = {"content-type": "application/json", "accept-encoding": "identity"}


def _marks(*texts: bytes) -> tuple[bytes, ...]:
    """Each mark compact and as Python's json.dumps writes it (LiteLLM: `": "`, `", "`)."""
    return tuple(dict.fromkeys(m for t in texts for m in (t, t.replace(b'":', b'": '))))


_CHAT_TOKEN, _CHAT_DONE = _marks(b'"delta":{"content":'), _marks(b'"finish_reason":"stop"')
_RESP_TOKEN, _RESP_DONE = _marks(b"response.output_text.delta"), _marks(b'"type":"response.completed"')
TOKEN_MARK = {"direct": _CHAT_TOKEN, "litellm_chat": _CHAT_TOKEN, "onward": _RESP_TOKEN, "litellm": _RESP_TOKEN}
DONE_MARK = {"direct": _CHAT_DONE, "litellm_chat": _CHAT_DONE, "onward": _RESP_DONE, "litellm": _RESP_DONE}
JSON_OK = _marks(b'"status":"completed"', b'"finish_reason":"stop"')
END_MARK = b"data: [DONE]"


class Bad(Exception):
    pass


async def one(client: httpx.AsyncClient, url: str, v: Variant) -> Sample:
    t0 = time.perf_counter()
    if not v.stream:
        r = await client.post(url, content=v.payload, headers=HEADERS)
        t = time.perf_counter() - t0
        if r.status_code != 200 or not any(m in r.content for m in JSON_OK):
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
            if token is None and any(m in chunk for m in mark):
                token = time.perf_counter() - t0
            if not done and any(m in chunk for m in dmark):
                done = True
            tail = (tail + chunk)[-64:]
    t = time.perf_counter() - t0
    if not done or END_MARK not in tail:
        raise Bad(f"{v.key}: stream did not complete (tail {tail[-200:]!r})")
    return Sample(t, first, token if token is not None else t)


def url_of(servers: Servers, v: Variant) -> str:
    if v.target == "direct":
        return servers.upstream_url + "/v1/chat/completions"
    if v.target.startswith("litellm"):
        assert servers.litellm is not None
        return servers.litellm.url + ("/v1/chat/completions" if v.target == "litellm_chat" else "/v1/responses")
    return servers.onward_url + "/v1/responses"


@dataclass
class Batch:
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    server_cpu: float = 0.0  # the proxy the row goes through (Onward or LiteLLM); 0 for direct rows
    server_loop_cpu: float = 0.0  # its main thread: the event loop
    upstream_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    upstream_conns: int = 0
    errors: Counter = field(default_factory=Counter)

    def add(self, other: Batch) -> None:
        self.samples += other.samples
        for name in ("wall", "server_cpu", "server_loop_cpu", "upstream_cpu", "client_cpu", "machine_cpu", "upstream_conns"):
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

    up = servers.clocks["upstream"]
    server = v.server
    clock = servers.clocks[server] if server else (lambda: 0.0)
    pid = (servers.litellm.proc.pid if server == "litellm" and servers.litellm else servers.onward.pid) if server else None

    def loop() -> float:
        return thread_cpu(pid) if pid else 0.0

    conns0 = upstream_stats(servers)["connections"]
    cpu0 = (clock(), loop(), up(), time.process_time(), common.machine_busy())
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients[:concurrency]))
    batch.wall = time.perf_counter() - t0
    cpu1 = (clock(), loop(), up(), time.process_time(), common.machine_busy())
    batch.server_cpu, batch.server_loop_cpu, batch.upstream_cpu, batch.client_cpu, batch.machine_cpu = (
        b - a for a, b in zip(cpu0, cpu1, strict=True)
    )
    batch.upstream_conns = upstream_stats(servers)["connections"] - conns0
    return batch


# -- statistics -----------------------------------------------------------------------------
def summarize(v: Variant, b: Batch, concurrency: int) -> dict[str, Any]:
    n = len(b.samples)
    totals = [s.total for s in b.samples]
    ours = b.server_cpu + b.upstream_cpu + b.client_cpu
    proxy = v.server is not None
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
        "server": v.server,
        "server_cpu_ms_per_req": b.server_cpu / n * 1e3 if n and proxy else None,
        "server_loop_cpu_ms_per_req": b.server_loop_cpu / n * 1e3 if n and proxy else None,
        "server_cores": b.server_cpu / b.wall if b.wall and proxy else None,
        "server_loop_busy": b.server_loop_cpu / b.wall if b.wall and proxy else None,
        # the same for Onward's rows under their earlier names (saved runs, scripts)
        "onward_cpu_ms_per_req": b.server_cpu / n * 1e3 if n and v.target == "onward" else None,
        "onward_loop_busy": b.server_loop_cpu / b.wall if b.wall and v.target == "onward" else None,
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
        if v.peer_of:  # a LiteLLM row: Onward's advantage, measured in the same rounds
            ours = rows[v.peer_of]
            row["cpu_vs_onward"] = ratio(row["server_cpu_ms_per_req"], ours["server_cpu_ms_per_req"])
            row["onward_rps_ratio"] = ratio(ours["rps"], row["rps"])


# -- the run --------------------------------------------------------------------------------
def make_clients(count: int) -> list[httpx.AsyncClient]:
    # One keep-alive connection per worker: httpx's shared pool costs O(connections) per request
    # (at 32 connections a single shared client is ~4x slower), which would cap the *direct*
    # baseline and flatter Onward.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=300)
    return [httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) for _ in range(count)]


async def measure(servers: Servers, vs: list[Variant], n: int, levels: list[int], rounds: int, warmup: int, say) -> dict[int, dict[str, dict[str, Any]]]:
    top = max(levels)
    clients = {t: make_clients(top) for t in dict.fromkeys(v.target for v in vs)}
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


# -- optional profile -----------------------------------------------------------------------
async def profile(servers: Servers, vs: list[Variant], out_dir: Path, n: int, concurrency: int, say, svg: bool = False) -> dict[str, Any]:
    """Sample the Onward process with py-spy while it serves `n` requests of each Onward variant
    (collapsed stacks in DIR/<variant>-c<N>.txt). `svg`: then once more, as py-spy's flame graph
    (DIR/<variant>-c<N>.svg)."""
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
            if svg:
                flame = raw.with_suffix(".svg")
                proc = await asyncio.create_subprocess_exec(
                    spy, "record", "--pid", str(servers.onward.pid), "--rate", str(PROFILE_RATE), "--gil", "--format", "flamegraph", "--output", str(flame),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )
                await asyncio.sleep(1.0)
                await run_batch(clients, servers, v, n, concurrency)
                proc.send_signal(signal.SIGINT)
                await proc.communicate()
                if flame.exists():
                    found[v.key]["svg"] = str(flame)
                    say(f"flame graph {v.key} at concurrency {concurrency}: {flame}")
    finally:
        for cl in clients:
            await cl.aclose()
    return found


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
    ap.add_argument("--flame", action="store_true", help="with --profile: also write py-spy's flame graph SVGs to DIR")
    ap.add_argument(
        "--litellm", action="store_true",
        help=f"also measure LiteLLM's proxy ({litellm_peer.VERSION}, installed on first use into {litellm_peer.venv_dir()}) on the same upstream",
    )
    ap.add_argument("--onward", default=str(common.VENV_BIN / "onward"), help="the onward executable (default: next to this python)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    ap.add_argument("--from-json", type=Path, metavar="FILE", help="only print the tables of a run saved with --json")
    ap.add_argument("--workers", metavar="LIST", help="compare `onward serve --workers N` for each N listed (e.g. 1,2), on PostgreSQL; see workers.py")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server for --workers (a database per server is created and dropped)")
    args = ap.parse_args(argv)
    if args.workers:
        import workers

        return workers.main(args, sys.modules[__name__])
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
        "litellm": litellm_peer.VERSION if args.litellm else None,
    }
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        found = {int(c): rows for c, rows in saved["results"].items()}
        for rows in found.values():  # runs saved before the LiteLLM rows named Onward's CPU only
            for r in rows.values():
                r.setdefault("server_cpu_ms_per_req", r.get("onward_cpu_ms_per_req"))
                r.setdefault("server_loop_busy", r.get("onward_loop_busy"))
        vs = variants(litellm=any("litellm_json" in rows for rows in found.values()))
        render(console, found, vs, saved["meta"])
        if saved.get("profile"):
            render_profile(console, saved["profile"])
        return 0
    vs = variants(litellm=args.litellm)
    litellm_exe = litellm_peer.ensure_installed(say) if args.litellm else None
    tmp = Path(tempfile.mkdtemp(prefix="onward-bench-"))
    servers = None
    t_start = time.perf_counter()
    try:
        servers = start_servers(tmp, args.onward, litellm_exe)
        say(f"fake upstream :{servers.upstream_port} (pid {servers.upstream.pid}), onward :{servers.onward_port} (pid {servers.onward.pid}), data in {tmp}")
        if servers.litellm:
            say(f"litellm {litellm_peer.VERSION} :{servers.litellm.port} (pid {servers.litellm.proc.pid}), log {servers.litellm.log}")
        results = common.run_async(measure(servers, vs, args.requests, levels, rounds, args.warmup, say))
        console.print()
        verdicts = render(console, results, vs, meta)
        prof: dict[str, Any] = {}
        if args.profile:
            console.print()
            args.profile.mkdir(parents=True, exist_ok=True)
            for pc in [int(x) for x in (args.profile_concurrency or str(max(levels))).split(",") if x.strip()]:
                got = common.run_async(profile(servers, vs, args.profile, args.profile_requests, pc, say, svg=args.flame))
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
