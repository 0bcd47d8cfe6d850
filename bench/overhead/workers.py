"""`run.py --workers 1,2`: Onward's throughput and CPU per request with 1 and with N server
processes (`onward serve --workers N`), side by side in one run.

Several processes need PostgreSQL, so every Onward here runs on PostgreSQL (a throwaway
database per server, created and dropped with psql), the 1-process one included: the rows
differ only in the number of processes. All servers stand behind one fast fake upstream and
are up together; the batches take turns (variant by variant, server by server, in `--rounds`
blocks), so that drift on the machine is shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common  # bench/ is on sys.path (run.py puts it there)
import httpx
from rich.console import Console
from rich.table import Table


class TreeClock:
    """CPU seconds of a process and its children now alive (the `--workers` processes):
    each one's kernel CPU clock, summed. A child that died takes its time with it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.clocks: dict[int, common.ProcClock] = {}

    def children(self) -> list[int]:
        try:
            return [int(p) for p in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except OSError:
            return []

    def __call__(self) -> float:
        return sum(self.per_process().values())

    def per_process(self) -> dict[int, float]:
        """CPU seconds of the parent and of each child, by pid."""
        out: dict[int, float] = {}
        for pid in [self.pid, *self.children()]:
            clock = self.clocks.get(pid) or self.clocks.setdefault(pid, common.ProcClock(pid))
            with contextlib.suppress(OSError, ValueError, IndexError):
                out[pid] = clock()
        return out


@dataclass
class Onward:
    workers: int
    server: common.Server
    db: str
    clock: TreeClock

    @property
    def url(self) -> str:
        return self.server.url + "/v1/responses"


@dataclass
class Cell:
    """One variant on one server at one concurrency, over all its rounds."""

    samples: list[Any] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    busiest: float = 0.0  # CPU of the busiest serving process (with --workers N > 1)
    errors: Counter = field(default_factory=Counter)


def start(onward_cmd: str, tmp: Path, models: Path, pg_url: str, workers: list[int], say) -> list[Onward]:
    servers: list[Onward] = []
    try:
        for w in workers:
            name = f"onward_bench_{uuid.uuid4().hex[:8]}_w{w}"
            common.psql(pg_url, f"CREATE DATABASE {name}")
            work = tmp / f"w{w}"
            work.mkdir()
            try:
                srv = common.start_onward(onward_cmd, work, models, f"{pg_url.rstrip('/')}/{name}", work / "onward.log", set_env={"ONWARD_PROCESSES": str(w)}, timeout=180)
            except SystemExit:
                common.psql(pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                raise
            on = Onward(w, srv, name, TreeClock(srv.proc.pid))
            servers.append(on)
            if w > 1:  # every process serves once the ready line is out
                deadline = time.monotonic() + 180
                while "Onward ready" not in srv.log.read_text(errors="replace"):
                    if time.monotonic() > deadline or srv.proc.poll() is not None:
                        raise SystemExit(f"onward --workers {w} did not print its ready line:\n{srv.log.read_text()[-3000:]}")
                    time.sleep(0.2)
            say(f"onward --workers {w} :{srv.port} (pid {srv.proc.pid}, children {on.clock.children()}), database {name}")
    except BaseException:
        stop(servers, pg_url)
        raise
    return servers


def stop(servers: list[Onward], pg_url: str) -> None:
    common.stop_procs([s.server.proc for s in servers], timeout=20)
    for s in servers:
        with contextlib.suppress(subprocess.CalledProcessError):
            common.psql(pg_url, f"DROP DATABASE IF EXISTS {s.db} WITH (FORCE)")


async def batch(clients: list[httpx.AsyncClient], on: Onward, v: Any, n: int, concurrency: int, one: Any, bad: tuple) -> Cell:
    cell = Cell()
    todo = iter(range(n))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in todo:
            try:
                cell.samples.append(await one(client, on.url, v))
            except bad as exc:
                cell.errors[f"{type(exc).__name__}: {str(exc)[:200]}"] += 1

    per0, client0, busy0 = on.clock.per_process(), time.process_time(), common.machine_busy()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients[:concurrency]))
    cell.wall = time.perf_counter() - t0
    per1, cell.client_cpu, cell.machine_cpu = on.clock.per_process(), time.process_time() - client0, common.machine_busy() - busy0
    used = {pid: per1[pid] - per0.get(pid, 0.0) for pid in per1 if pid != on.clock.pid}  # the serving processes
    cell.cpu = sum(per1.values()) - sum(v for pid, v in per0.items() if pid in per1)
    cell.busiest = max(used.values(), default=0.0)
    return cell


async def measure(servers: list[Onward], vs: list[Any], n: int, levels: list[int], rounds: int, warmup: int, run: Any, say) -> dict[str, Any]:
    """{level: {variant key: {workers: summary}}}, the servers taking turns batch by batch."""
    top = max(levels)
    clients = {s.workers: run.make_clients(top) for s in servers}
    bad = (run.Bad, httpx.HTTPError)
    out: dict[str, Any] = {}
    try:
        say(f"warm-up: {warmup} requests per variant and server at concurrency 1, then {top * 3} at {top}")
        for v in vs:
            for s in servers:
                await batch(clients[s.workers], s, v, warmup, 1, run.one, bad)
                await batch(clients[s.workers], s, v, top * 3, top, run.one, bad)
        for c in levels:
            per = [n // rounds + (1 if i < n % rounds else 0) for i in range(rounds)]
            cells = {(v.key, s.workers): Cell() for v in vs for s in servers}
            t0 = time.perf_counter()
            for size in per:
                for v in vs:
                    for s in servers:
                        got = await batch(clients[s.workers], s, v, size, c, run.one, bad)
                        cell = cells[(v.key, s.workers)]
                        cell.samples += got.samples
                        cell.errors.update(got.errors)
                        cell.wall += got.wall
                        cell.cpu += got.cpu
                        cell.client_cpu += got.client_cpu
                        cell.machine_cpu += got.machine_cpu
                        cell.busiest += got.busiest
            out[str(c)] = {v.key: {str(s.workers): summarize(cells[(v.key, s.workers)]) for s in servers} for v in vs}
            say(f"concurrency {c}: {n} requests x {len(vs)} variants x {len(servers)} servers in {time.perf_counter() - t0:.1f} s")
    finally:
        for group in clients.values():
            for cl in group:
                await cl.aclose()
    return out


def summarize(cell: Cell) -> dict[str, Any]:
    k = len(cell.samples)
    totals = [s.total for s in cell.samples]
    return {
        "requests": k,
        "errors": sum(cell.errors.values()),
        "error_samples": dict(cell.errors.most_common(3)),
        "rps": k / cell.wall if cell.wall else 0.0,
        "p50_ms": common.pct(totals, 50) * 1e3,
        "p99_ms": common.pct(totals, 99) * 1e3,
        "cpu_ms_per_req": cell.cpu / k * 1e3 if k else None,
        "onward_cores": cell.cpu / cell.wall if cell.wall else None,
        "busiest_share": cell.busiest / cell.cpu if cell.cpu else None,  # 1/N: the processes share the work evenly
        "client_cores": cell.client_cpu / cell.wall if cell.wall else None,
        "other_cores": max(0.0, cell.machine_cpu - cell.cpu - cell.client_cpu) / cell.wall if cell.wall else None,
    }


def render(console: Console, results: dict[str, Any], vs: list[Any], workers: list[int], meta: dict[str, Any]) -> list[str]:
    base, most = workers[0], workers[-1]
    verdicts = []
    for c, rows in results.items():
        t = Table(title=f"Concurrency {c} - Onward on PostgreSQL with {' vs '.join(str(w) for w in workers)} processes; ms unless noted", title_justify="left", header_style="bold")
        t.add_column("path", no_wrap=True)
        t.add_column("workers", justify="right")
        for name in ("req/s", f"vs {base}\nworker", "p50", "p99", "Onward CPU\nms/req", "Onward\ncores", "busiest\nprocess", "client\ncores", "other\ncores", "err"):
            t.add_column(name, justify="right")
        for v in vs:
            ref = rows[v.key][str(base)]
            for w in workers:
                r = rows[v.key][str(w)]
                t.add_row(
                    v.label if w == base else "",
                    str(w),
                    f"{r['rps']:.0f}",
                    f"{r['rps'] / ref['rps']:.2f}x" if ref["rps"] else "-",
                    f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}",
                    f"{r['cpu_ms_per_req']:.2f}" if r["cpu_ms_per_req"] is not None else "-",
                    f"{r['onward_cores']:.2f}",
                    f"{100 * r['busiest_share']:.0f}%" if w > 1 and r.get("busiest_share") is not None else "-",
                    f"{r['client_cores']:.2f}",
                    f"{r['other_cores']:.2f}",
                    str(r["errors"]) if r["errors"] else "",
                    end_section=w == most,
                )
        console.print(t)
        console.print()
    c = max(results, key=int)
    ratios = {v.key: results[c][v.key][str(most)]["rps"] / results[c][v.key][str(base)]["rps"] for v in vs if results[c][v.key][str(base)]["rps"]}
    verdicts.append(
        f"throughput @c={c}, {most} vs {base} processes: " + ", ".join(f"{key} {x:.2f}x" for key, x in ratios.items())
        + " (on 2 cores the client and the upstream share them with Onward: read 'Onward cores' and 'client cores')"
    )
    for line in verdicts:
        console.print(f"[bold]RESULT[/] {line}")
    console.print(f"[dim]{meta['machine']}. CPU of `onward serve --workers N` is the parent's plus every child's.[/]")
    return verdicts


def main(args: Any, run: Any) -> int:
    """The `--workers` mode of run.py (`run` is that module: its variants, load generator and upstream)."""
    workers = sorted({int(x) for x in args.workers.split(",") if x.strip()})
    levels = sorted({int(x) for x in args.concurrency.split(",") if x.strip()})
    rounds = max(1, min(args.rounds, args.requests))
    console, say = common.make_console()
    vs = [v for v in run.variants() if v.target == "onward"]
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": common.machine_info(), "workers": workers, "requests": args.requests, "concurrency": levels, "argv": sys.argv}
    tmp = Path(tempfile.mkdtemp(prefix="onward-bench-workers-"))
    up = None
    servers: list[Onward] = []
    t_start = time.perf_counter()
    try:
        up, up_port = common.start_fake_upstream()
        models = run.write_models(tmp, up_port)
        servers = start(args.onward, tmp, models, args.pg_url, workers, say)
        results = common.run_async(measure(servers, vs, args.requests, levels, rounds, args.warmup, run, say))
        console.print()
        verdicts = render(console, results, vs, workers, meta)
        if args.json:
            common.save_json(args.json, {"meta": meta, "workers_results": results, "verdicts": verdicts}, say)
        errors = sum(r["errors"] for rows in results.values() for per in rows.values() for r in per.values())
        if errors:
            samples = {k for rows in results.values() for per in rows.values() for r in per.values() for k in r["error_samples"]}
            console.print(f"[red]{errors} failed requests[/]: " + "; ".join(sorted(samples)))
        say(f"total {time.perf_counter() - t_start:.0f} s")
        return 1 if errors else 0
    finally:
        stop(servers, args.pg_url)
        if up is not None:
            common.stop_procs([up], timeout=10)
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
