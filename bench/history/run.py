"""Does a model request over a long history cost what one over a short history does?

In one run, on SQLite and on PostgreSQL side by side, three pairs of cases, each timed request by
request in turns (small, big, big, small, …), sequential and warm, against a live `onward serve`
with a scripted model (so the model's own cost does not hide the history's):

* conversation: POST /v1/responses with `conversation=` on a --big-item conversation (default
  100,000) vs a --small-item one (default 10), `truncation=auto`;
* thread: an Assistants run (POST /v1/threads/{id}/runs, stream=true, read to the end) on a
  --big-message thread vs a --small-message one;
* chain: POST /v1/responses with `previous_response_id` at the end of a --depth chain
  (default 1,000 responses) vs at depth 1.

The histories are written through the store layer before the server starts (one
ConversationStore.create per conversation or thread, ResponseStore.save_new per response), with the API's own item normalisation. Each
timed request adds its own items to the conversation or thread (two per request), which does
not change their scale.

    PYTHONPATH=src .venv/bin/python bench/history/run.py [--db sqlite,postgres] [--big 100000] [--depth 1000]

It prints p50 per case and database and the ratio big/small (aim: within 1.5x). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for common
import common  # noqa: E402

AIM_RATIO = 1.5
WORDS = (
    "the a of and to in is it that for on with as was at by this be from or an are have not they which one you were all we "
    "when there can been has more if will no would so what about out up into than them some could time only new other then "
    "also after two first well way even because any these give day most us plan model data page order cost user test file"
).split()
CASES = ("conversation", "thread", "chain")


async def seed(db_url: str, args, say) -> dict[str, str]:
    """Two conversations, two threads (a thread is a conversation), two chains' last ids."""
    from onward.engine import context
    from onward.ids import new_id
    from onward.store.conversations import ConversationStore
    from onward.store.db import make_engine, migrate
    from onward.store.responses import ResponseStore

    engine = make_engine(db_url)
    rng = random.Random(7)
    ids: dict[str, str] = {}
    try:
        await migrate(engine)
        convs = ConversationStore(engine)
        for case, prefix in (("conversation", "conv"), ("thread", "thread")):
            for size, n in (("small", args.small), ("big", args.big)):
                t0 = time.perf_counter()
                conv_id = new_id(prefix)
                raw = common.messages(rng, WORDS, n)
                if case == "thread":
                    raw[-1]["role"] = "user"  # a run answers the thread's last message
                # One ConversationStore.create: a bulk insert with the store's own rows.
                await convs.create(conv_id, {"bench": f"{case}-{size}"}, context.normalize_input(raw))
                ids[f"{case}/{size}"] = conv_id
                say(f"{case} {size}: {n:,} items in {time.perf_counter() - t0:.1f} s")
        store = ResponseStore(engine)
        for size, depth in (("small", 1), ("big", args.depth)):
            t0 = time.perf_counter()
            previous = None
            for _ in range(depth):
                resp_id = new_id("resp")
                given, answer = common.messages(rng, WORDS, 2)
                inp = context.normalize_input([given])
                out = context.normalize_input([answer])
                body = {"id": resp_id, "object": "response", "created_at": int(time.time()), "status": "completed", "model": "scripted", "output": out,
                        "previous_response_id": previous, "store": True, "background": False, "conversation": None}
                await store.save_new(body, {"model": "scripted"}, inp, out)
                previous = resp_id
            assert previous is not None
            ids[f"chain/{size}"] = previous
            say(f"chain {size}: depth {depth:,} in {time.perf_counter() - t0:.1f} s")
    finally:
        await engine.dispose()
    return ids


async def measure(server: common.Server, ids: dict[str, str], n: int, warmup: int, say) -> dict[str, Any]:
    assert server.clock is not None
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
        r = await client.post("/v1/assistants", json={"model": "scripted", "instructions": "Answer briefly."})
        r.raise_for_status()
        assistant = r.json()["id"]
        counter = iter(range(10**9))

        async def one(case: str, size: str) -> tuple[float, float, str | None]:
            target = ids[f"{case}/{size}"]
            k = next(counter)
            c0, t0 = server.clock(), time.perf_counter()  # type: ignore[misc]
            bad = None
            if case == "thread":
                async with client.stream("POST", f"/v1/threads/{target}/runs", json={"assistant_id": assistant, "stream": True}) as resp:
                    text = (await resp.aread()).decode()
                if resp.status_code != 200 or "thread.run.completed" not in text:
                    bad = f"HTTP {resp.status_code}: {text[-300:]}"
            else:
                body: dict[str, Any] = {"model": "scripted", "input": f"One more question, number {k}.", "truncation": "auto"}
                body["conversation" if case == "conversation" else "previous_response_id"] = target
                resp = await client.post("/v1/responses", json=body)
                if resp.status_code != 200 or resp.json().get("status") != "completed":
                    bad = f"HTTP {resp.status_code}: {resp.text[:300]}"
            return time.perf_counter() - t0, server.clock() - c0, bad  # type: ignore[misc]

        for case in CASES:
            pair = ("small", "big")
            for size in pair:
                for _ in range(warmup):
                    await one(case, size)
            times: dict[str, list[float]] = {s: [] for s in pair}
            cpu = dict.fromkeys(pair, 0.0)
            errors: dict[str, list[str]] = {s: [] for s in pair}
            for i in range(n):
                for size in pair if i % 2 == 0 else pair[::-1]:
                    dt, c, bad = await one(case, size)
                    times[size].append(dt)
                    cpu[size] += c
                    if bad:
                        errors[size].append(bad)
            for size in pair:
                t = times[size]
                results[f"{case}/{size}"] = {"n": len(t), "p50_ms": common.pct(t, 50) * 1e3, "p90_ms": common.pct(t, 90) * 1e3, "cpu_ms": cpu[size] / len(t) * 1e3,
                                             "errors": len(errors[size]), "error_sample": errors[size][:1]}
            say(f"{case}: small p50 {results[f'{case}/small']['p50_ms']:.1f} ms, big p50 {results[f'{case}/big']['p50_ms']:.1f} ms")
    return results


async def one_db(db: str, args, say) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"onward-bench-history-{db}-"))
    pg_db = None
    server = None
    try:
        if db == "postgres":
            pg_db = f"onward_bench_history_{os.getpid()}"
            common.psql(args.pg_url, f"CREATE DATABASE {pg_db}")
            db_url = f"{args.pg_url.rstrip('/')}/{pg_db}"
        else:
            db_url = f"sqlite:///{tmp / 'history.db'}"
        ids = await seed(db_url, args, say)
        models = tmp / "models.toml"
        models.write_text(f'default = "scripted"\n[models.scripted]\nprovider = "scripted"\ncontext_window = {args.window}\nscript = [{{ text = "Noted, thank you." }}]\n')
        server = common.start_onward(args.onward, tmp, models, db_url, tmp / "onward.log", drop_env=("ONWARD_API_KEYS", "ONWARD_EMBEDDINGS", "ONWARD_DATABASE_URL"))
        say(f"{db}: onward :{server.port} (pid {server.proc.pid})")
        return await measure(server, ids, args.requests, args.warmup, say)
    finally:
        if server is not None:
            common.stop_procs([server.proc])
        if pg_db:
            with contextlib.suppress(subprocess.CalledProcessError):
                common.psql(args.pg_url, f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)


def render(console, out: dict[str, Any]) -> list[str]:
    meta = out["meta"]
    t = Table(title=f"History cost: small = {meta['small']} items / depth 1, big = {meta['big']:,} items / depth {meta['depth']:,}; scripted model, "
              f"context_window {meta['window']}; {meta['requests']} requests per cell, p50 ms", title_justify="left")
    for col in ("database", "case", "small p50", "big p50", "big/small", "small CPU ms", "big CPU ms", "CPU big/small", "err"):
        t.add_column(col, justify="left" if col in ("database", "case") else "right")
    verdicts = []
    for db, res in out["results"].items():
        for case in CASES:
            s, b = res[f"{case}/small"], res[f"{case}/big"]
            ratio = b["p50_ms"] / s["p50_ms"]
            err = s["errors"] + b["errors"]
            t.add_row(db, case, f"{s['p50_ms']:.1f}", f"{b['p50_ms']:.1f}", common.good(ratio <= AIM_RATIO, f"{ratio:.2f}x"), f"{s['cpu_ms']:.1f}", f"{b['cpu_ms']:.1f}", f"{b['cpu_ms'] / s['cpu_ms']:.2f}x", str(err) if err else "")
            verdicts.append(f"{db} {case}: {'PASS' if ratio <= AIM_RATIO else 'FAIL'} big/small p50 {ratio:.2f}x (aim {AIM_RATIO:g}x)")
    console.print(t)
    for v in verdicts:
        common.print_verdict(console, v)
    console.print("[dim]CPU: the server process's CPU per request (its own threads, SQLite included; PostgreSQL's work is not), steadier than wall time on a loaded machine.[/]")
    console.print(f"[dim]{meta['machine']}. The client and the server share the machine.[/]")
    return verdicts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both)")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="server for postgres (an onward_bench_* database is created and dropped)")
    ap.add_argument("--small", type=int, default=10)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--depth", type=int, default=1000, help="the long previous_response_id chain (default 1000)")
    ap.add_argument("--window", type=int, default=8192, help="the scripted model's context_window (tokens = words)")
    ap.add_argument("--requests", "-n", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--from-json", type=Path, metavar="FILE", help="only print the table of a run saved with --json")
    ap.add_argument("--onward", default=str(common.VENV_BIN / "onward"), help="the onward executable (PYTHONPATH decides which source it runs)")
    args = ap.parse_args(argv)
    console, say = common.make_console()
    if args.from_json:
        render(console, json.loads(args.from_json.read_text()))
        return 0
    out: dict[str, Any] = {"meta": {"small": args.small, "big": args.big, "depth": args.depth, "window": args.window, "requests": args.requests,
                                    "machine": common.machine_info(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}, "results": {}}
    for db in args.db.split(","):
        out["results"][db] = common.run_async(one_db(db, args, say))
    console.print()
    out["verdicts"] = render(console, out)
    if args.json:
        common.save_json(args.json, out, say)
    errors = [e for res in out["results"].values() for r in res.values() for e in r["error_sample"]]
    if errors:
        console.print(f"[red]failed requests[/]: {errors[:3]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
