"""What does Onward add on top of the model server behind it?

Starts a fast fake Chat Completions upstream and `onward serve` in front of it (subprocesses,
free ports, a temporary data dir with SQLite), then measures, in one run, the same logical
request sent

  * directly to the upstream's /v1/chat/completions (stream and non-stream), and
  * through Onward's POST /v1/responses (stream and non-stream; store=true, the default, and
    store=false),

at each concurrency level: latency (p50/p99; for streams also time to the first event and to
the first text delta), throughput, and CPU time per request of the Onward server process (and
of the fake upstream and the load generator, for scale).

    .venv/bin/python bench/overhead/run.py [--requests N] [--concurrency 1,32] [--json out.json]
                                           [--profile DIR]

See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROMPT = "Say hello in one short sentence."

# Aims
AIM_ADDED_P50_MS = 2.0  # median added latency at concurrency 1
AIM_THROUGHPUT_RATIO = 0.5  # Onward req/s at concurrency 32 >= 0.5 x direct
LITELLM_CPU_MS = 9.0  # LiteLLM's CPU per bridged /v1/responses request, the peer to beat


# -- processes ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all threads, live and exited), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def own_cpu() -> float:
    return time.process_time()


@dataclass
class Servers:
    tmp: Path
    upstream: subprocess.Popen
    upstream_port: int
    onward: subprocess.Popen
    onward_port: int
    onward_log: Path

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"

    @property
    def onward_url(self) -> str:
        return f"http://127.0.0.1:{self.onward_port}"


def start_servers(tmp: Path, onward_cmd: list[str]) -> Servers:
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
    port = free_port()
    log = tmp / "onward.log"
    env = dict(os.environ, ONWARD_DATA_DIR=str(tmp / "data"))
    env.pop("ONWARD_API_KEYS", None)
    with open(log, "wb") as out:
        onward = subprocess.Popen(
            [*onward_cmd, "serve", "--port", str(port), "--models", str(models), "--db", f"sqlite:///{tmp / 'bench.db'}", "--log-level", "warning"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp,
        )
    servers = Servers(tmp, up, up_port, onward, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if onward.poll() is not None:
            stop_servers(servers)
            raise SystemExit(f"onward exited with {onward.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(servers.onward_url + "/health", timeout=1).status_code == 200:
                return servers
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_servers(servers)
    raise SystemExit(f"onward did not become healthy in 60 s:\n{log.read_text()[-3000:]}")


def stop_servers(servers: Servers) -> None:
    for proc in (servers.onward, servers.upstream):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in (servers.onward, servers.upstream):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
        Variant("direct_json", "direct  chat  non-stream", "direct", False, direct(False)),
        Variant("direct_sse", "direct  chat  stream", "direct", True, direct(True)),
        Variant("onward_json", "onward  resp  non-stream", "onward", False, onward(False, None), "direct_json"),
        Variant("onward_sse", "onward  resp  stream", "onward", True, onward(True, None), "direct_sse"),
        Variant("onward_json_nostore", "onward  resp  non-stream store=false", "onward", False, onward(False, False), "direct_json"),
        Variant("onward_sse_nostore", "onward  resp  stream     store=false", "onward", True, onward(True, False), "direct_sse"),
    ]


@dataclass
class Sample:
    total: float  # seconds to the last byte
    first: float | None = None  # to the first body bytes (streams)
    token: float | None = None  # to the first text delta (streams)


HEADERS = {"content-type": "application/json", "accept-encoding": "identity"}
TOKEN_MARK = {"direct": b'"delta":{"content":', "onward": b"response.output_text.delta"}
END_MARK = {"direct": b"data: [DONE]", "onward": b"data: [DONE]"}
DONE_MARK = {"direct": b'"finish_reason":"stop"', "onward": b'"type":"response.completed"'}


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
    if not done or END_MARK[v.target] not in tail:
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
    upstream_cpu: float = 0.0
    client_cpu: float = 0.0
    errors: Counter = field(default_factory=Counter)

    def add(self, other: Batch) -> None:
        self.samples += other.samples
        self.wall += other.wall
        self.onward_cpu += other.onward_cpu
        self.upstream_cpu += other.upstream_cpu
        self.client_cpu += other.client_cpu
        self.errors.update(other.errors)


async def run_batch(client: httpx.AsyncClient, servers: Servers, v: Variant, n: int, concurrency: int) -> Batch:
    url = url_of(servers, v)
    batch = Batch()
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            try:
                batch.samples.append(await one(client, url, v))
            except (Bad, httpx.HTTPError) as exc:
                batch.errors[str(exc)[:200]] += 1

    cpu0 = (cpu_seconds(servers.onward.pid), cpu_seconds(servers.upstream.pid), own_cpu())
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    batch.wall = time.perf_counter() - t0
    cpu1 = (cpu_seconds(servers.onward.pid), cpu_seconds(servers.upstream.pid), own_cpu())
    batch.onward_cpu, batch.upstream_cpu, batch.client_cpu = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    return batch


# -- statistics -----------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of values in seconds; NaN if empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summarize(v: Variant, b: Batch, concurrency: int) -> dict[str, Any]:
    n = len(b.samples)
    totals = [s.total for s in b.samples]
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
        "p50_ms": pct(totals, 50) * 1e3,
        "p90_ms": pct(totals, 90) * 1e3,
        "p99_ms": pct(totals, 99) * 1e3,
        "mean_ms": statistics.fmean(totals) * 1e3 if totals else float("nan"),
        "onward_cpu_ms_per_req": b.onward_cpu / n * 1e3 if n and v.target == "onward" else None,
        "upstream_cpu_us_per_req": b.upstream_cpu / n * 1e6 if n else None,
        "client_cpu_ms_per_req": b.client_cpu / n * 1e3 if n else None,
        "onward_cpu_util": b.onward_cpu / b.wall if b.wall else None,  # cores busy
    }
    if v.stream:
        out["first_event_p50_ms"] = pct([s.first for s in b.samples if s.first is not None], 50) * 1e3
        out["first_event_p99_ms"] = pct([s.first for s in b.samples if s.first is not None], 99) * 1e3
        out["first_token_p50_ms"] = pct([s.token for s in b.samples if s.token is not None], 50) * 1e3
        out["first_token_p99_ms"] = pct([s.token for s in b.samples if s.token is not None], 99) * 1e3
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
async def measure(servers: Servers, vs: list[Variant], n: int, levels: list[int], rounds: int, warmup: int, say) -> dict[int, dict[str, dict[str, Any]]]:
    limits = httpx.Limits(max_connections=max(levels) * 2, max_keepalive_connections=max(levels) * 2, keepalive_expiry=120)
    timeout = httpx.Timeout(60.0)
    clients = {
        "direct": httpx.AsyncClient(limits=limits, timeout=timeout),
        "onward": httpx.AsyncClient(limits=limits, timeout=timeout),
    }
    results: dict[int, dict[str, dict[str, Any]]] = {}
    try:
        say(f"warm-up: {warmup} requests per variant at concurrency 1, then {max(levels) * 2} at {max(levels)}")
        for v in vs:
            await run_batch(clients[v.target], servers, v, warmup, 1)
            await run_batch(clients[v.target], servers, v, max(levels) * 2, max(levels))
        for c in levels:
            # Round-robin over the variants in `rounds` blocks, so that drift (other load on the
            # machine, a growing database) spreads over all of them; CPU is read per block.
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
        for cl in clients.values():
            await cl.aclose()
    return results


def fmt(x: Any, digits: int = 2, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def render(console: Console, results: dict[int, dict[str, dict[str, Any]]], vs: list[Variant], meta: dict[str, Any]) -> list[str]:
    verdicts: list[str] = []
    for c, rows in results.items():
        t = Table(title=f"Concurrency {c}  ({rows[vs[0].key]['requests']} requests per row)", title_justify="left", header_style="bold")
        t.add_column("path")
        t.add_column("p50 ms", justify="right")
        t.add_column("p99 ms", justify="right")
        t.add_column("1st event\np50 ms", justify="right")
        t.add_column("1st token\np50 ms", justify="right")
        t.add_column("added\np50 ms", justify="right")
        t.add_column("added\np99 ms", justify="right")
        t.add_column("req/s", justify="right")
        t.add_column("vs\ndirect", justify="right")
        t.add_column("Onward CPU\nms/req", justify="right")
        t.add_column("Onward\ncores", justify="right")
        t.add_column("upstream\nCPU µs/req", justify="right")
        t.add_column("client CPU\nms/req", justify="right")
        t.add_column("err", justify="right")
        for v in vs:
            r = rows[v.key]
            ratio = r.get("throughput_ratio")
            ratio_s = "-" if ratio is None else (f"[green]{ratio:.2f}x[/]" if ratio >= AIM_THROUGHPUT_RATIO else f"[red]{ratio:.2f}x[/]")
            added = r.get("added_p50_ms")
            added_s = "-" if added is None else (f"[green]{added:+.2f}[/]" if added < AIM_ADDED_P50_MS else f"[red]{added:+.2f}[/]")
            t.add_row(
                v.label,
                fmt(r["p50_ms"]),
                fmt(r["p99_ms"]),
                fmt(r.get("first_event_p50_ms")),
                fmt(r.get("first_token_p50_ms")),
                added_s if c == 1 else fmt(added, signed=True),
                fmt(r.get("added_p99_ms"), signed=True),
                fmt(r["rps"], 0),
                ratio_s if c != 1 else fmt(ratio, 2),
                fmt(r["onward_cpu_ms_per_req"]),
                fmt(r["onward_cpu_util"] if v.target == "onward" else None, 2),
                fmt(r["upstream_cpu_us_per_req"], 0),
                fmt(r["client_cpu_ms_per_req"]),
                str(r["errors"]) if r["errors"] else "",
                end_section=v.key in ("direct_sse", "onward_sse"),
            )
        console.print(t)
        console.print()

    if 1 in results:
        rows = results[1]
        worst = max((rows[v.key] for v in vs if v.baseline), key=lambda r: r["added_p50_ms"])
        default = [rows[k]["added_p50_ms"] for k in ("onward_json", "onward_sse")]
        ok = all(r["added_p50_ms"] < AIM_ADDED_P50_MS for r in (rows[v.key] for v in vs if v.baseline))
        verdicts.append(
            f"added latency @c=1: {'PASS' if ok else 'FAIL'} (aim p50 < {AIM_ADDED_P50_MS:g} ms): "
            f"store=true {default[0]:+.2f} / {default[1]:+.2f} ms (json/stream), "
            f"store=false {rows['onward_json_nostore']['added_p50_ms']:+.2f} / {rows['onward_sse_nostore']['added_p50_ms']:+.2f} ms; "
            f"worst {worst['label'].split('  ', 1)[1].strip()} {worst['added_p50_ms']:+.2f} ms"
        )
    high = [c for c in results if c > 1]
    if high:
        c = max(high)
        rows = results[c]
        ratios = {v.key: rows[v.key]["throughput_ratio"] for v in vs if v.baseline}
        ok = all(x >= AIM_THROUGHPUT_RATIO for x in ratios.values())
        verdicts.append(
            f"throughput @c={c}: {'PASS' if ok else 'FAIL'} (aim >= {AIM_THROUGHPUT_RATIO:g}x direct): "
            f"store=true {ratios['onward_json']:.2f}x / {ratios['onward_sse']:.2f}x (json/stream), "
            f"store=false {ratios['onward_json_nostore']:.2f}x / {ratios['onward_sse_nostore']:.2f}x"
        )
    cpu = [r["onward_cpu_ms_per_req"] for rows in results.values() for r in rows.values() if r["onward_cpu_ms_per_req"] is not None]
    if cpu:
        verdicts.append(
            f"Onward CPU per /v1/responses request: {min(cpu):.2f}–{max(cpu):.2f} ms "
            f"({'below' if max(cpu) < LITELLM_CPU_MS else 'NOT below'} LiteLLM's ~{LITELLM_CPU_MS:g} ms)"
        )
    for line in verdicts:
        colour = "green" if "PASS" in line or "(below" in line else "red"
        console.print(f"[bold {colour}]VERDICT[/] {line}")
    console.print(f"[dim]{meta['machine']}; {meta['note']}[/]")
    return verdicts


# -- optional profile -----------------------------------------------------------------------
async def profile(servers: Servers, vs: list[Variant], out_dir: Path, n: int, concurrency: int, say) -> dict[str, Any]:
    """Sample the Onward process with py-spy while it serves `n` requests per Onward variant."""
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if not spy:
        say("[yellow]--profile: py-spy not found (.venv/bin/pip install py-spy); skipped[/]")
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {}
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2), timeout=60)
    try:
        for v in vs:
            if v.target != "onward":
                continue
            raw = out_dir / f"{v.key}.txt"
            proc = await asyncio.create_subprocess_exec(
                spy, "record", "--pid", str(servers.onward.pid), "--rate", "500", "--format", "raw", "--output", str(raw), "--nonblocking",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
            await asyncio.sleep(1.0)  # let py-spy attach
            await run_batch(client, servers, v, n, concurrency)
            proc.send_signal(signal.SIGINT)
            _, err = await proc.communicate()
            if not raw.exists():
                say(f"[yellow]py-spy produced nothing for {v.key}: {err.decode()[-500:]}[/]")
                continue
            found[v.key] = {"raw": str(raw), **top_frames(raw)}
            say(f"profile {v.key}: {raw}")
    finally:
        await client.aclose()
    return found


def top_frames(raw: Path, k: int = 25) -> dict[str, Any]:
    """Self and inclusive sample counts per frame from py-spy's collapsed stacks."""
    self_c: Counter = Counter()
    incl: Counter = Counter()
    mods: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        c = int(count)
        frames = stack.split(";")
        if frames and frames[0].startswith("process ") or frames and frames[0].startswith("thread "):
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += c
        self_c[frames[-1]] += c
        for f in set(frames):
            incl[f] += c
        leaf = frames[-1]
        path = leaf[leaf.find("(") + 1 : leaf.rfind(")")] if "(" in leaf else leaf
        mods[_module_of(path)] += c
    return {
        "samples": total,
        "self": [(f, c) for f, c in self_c.most_common(k)],
        "inclusive": [(f, c) for f, c in incl.most_common(k * 2)],
        "by_package": mods.most_common(20),
    }


def _module_of(path: str) -> str:
    path = path.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in path:
            rest = path.split(marker, 1)[1]
            return ("stdlib:" if marker == "lib/python3" else "") + rest.split("/")[1 if marker == "lib/python3" else 0]
    return path


def render_profile(console: Console, prof: dict[str, Any]) -> None:
    for key, p in prof.items():
        t = Table(title=f"py-spy: {key} ({p['samples']} samples) - self time", title_justify="left")
        t.add_column("self %", justify="right")
        t.add_column("function (file:line)")
        for f, c in p["self"][:15]:
            t.add_row(f"{100 * c / max(1, p['samples']):.1f}", f)
        console.print(t)
        t = Table(title=f"py-spy: {key} - by package (self time)", title_justify="left")
        t.add_column("self %", justify="right")
        t.add_column("package")
        for m, c in p["by_package"][:12]:
            t.add_row(f"{100 * c / max(1, p['samples']):.1f}", m)
        console.print(t)


# -- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", "-n", type=int, default=400, help="requests per variant per concurrency level (default 400)")
    ap.add_argument("--concurrency", default="1,32", help="comma-separated levels (default 1,32)")
    ap.add_argument("--rounds", type=int, default=4, help="round-robin blocks per level (default 4)")
    ap.add_argument("--warmup", type=int, default=30, help="warm-up requests per variant (default 30)")
    ap.add_argument("--json", type=Path, help="save the results here")
    ap.add_argument("--profile", type=Path, metavar="DIR", help="afterwards, sample Onward with py-spy under load; collapsed stacks to DIR")
    ap.add_argument("--profile-requests", type=int, default=600)
    ap.add_argument("--onward", default=str(VENV_BIN / "onward"), help="the onward executable (default: next to this python)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = ap.parse_args(argv)
    levels = sorted({int(x) for x in args.concurrency.split(",") if x.strip()})
    rounds = max(1, min(args.rounds, args.requests))

    console = Console(width=int(os.environ.get("COLUMNS", "0")) or 170, highlight=False)
    say = lambda msg: console.print(f"[dim]{msg}[/]")  # noqa: E731
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load avg at start {load[0]:.2f}",
        "note": "client, Onward and the fake upstream share the machine; the client's overhead is in both columns",
        "requests": args.requests,
        "concurrency": levels,
        "rounds": rounds,
    }
    vs = variants()
    tmp = Path(tempfile.mkdtemp(prefix="onward-bench-"))
    servers = None
    t_start = time.perf_counter()
    try:
        servers = start_servers(tmp, [args.onward])
        say(f"fake upstream :{servers.upstream_port} (pid {servers.upstream.pid}), onward :{servers.onward_port} (pid {servers.onward.pid}), data in {tmp}")
        run = asyncio.run if sys.platform == "win32" else _uvloop_run
        results = run(measure(servers, vs, args.requests, levels, rounds, args.warmup, say))
        console.print()
        verdicts = render(console, results, vs, meta)
        prof: dict[str, Any] = {}
        if args.profile:
            prof = run(profile(servers, vs, args.profile, args.profile_requests, max(levels), say))
            render_profile(console, prof)
        if args.json:
            out = {"meta": meta, "results": {str(c): rows for c, rows in results.items()}, "verdicts": verdicts, "profile": prof}
            args.json.write_text(json.dumps(out, indent=2, default=str))
            say(f"saved {args.json}")
        errors = sum(r["errors"] for rows in results.values() for r in rows.values())
        say(f"total {time.perf_counter() - t_start:.0f} s")
        return 1 if errors else 0
    finally:
        if servers:
            stop_servers(servers)
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _uvloop_run(coro):
    with contextlib.suppress(ImportError):
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


if __name__ == "__main__":
    sys.exit(main())
