"""Does a conversation of 100,000 items page as fast as one of 100?

Builds two conversations in a fresh database, a small one (--small, default 100 items) and a
big one (--big, default 100,000), then starts `onward serve` on it and times
GET /v1/conversations/{id}/items?limit=20 (sequential, warm, one keep-alive connection) for
the first page, a page from the middle (`after` = the id of the item in the middle) and the
last page, in both orders, the small and the big conversation taking turns request by request.
It prints p50/p99 of each and the ratio big/small.

The items are sent, by default, through the API: POST /v1/conversations with the first 20,
then POST /v1/conversations/{id}/items, 20 items per request (the API's maximum), 8 requests
at a time (about 20 s for 100,000 items on 2 cores). `--insert direct` writes them instead
through the store layer before the server starts: `context.normalize_input` (the API's own
item normalisation) and `ConversationStore.create` / `.append` in batches of --batch items,
against the same database the server then opens (a few seconds).

Optionally (`--responses N`, default 3) it also times POST /v1/responses with
`conversation=` on each conversation (a scripted model, truncation=auto): that loads the
conversation's history, which unlike a page is meant to grow with its length.

    .venv/bin/python bench/conversations/run.py [--db sqlite|postgres] [--big 100000] [--json out.json]

See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for common
import common  # noqa: E402

AIM_RATIO = 1.5  # a big conversation's page may cost at most this much more than a small one's
WORDS = (
    "the a of and to in is it that for on with as was at by this be from or an are have not they which one you were all we "
    "when there can been has more if will no would so what about out up into than them some could time only new other then "
    "also after two first well way even because any these give day most us plan model data page order cost user test file "
    "query value result index server client request answer reason change build write check error issue number report list"
).split()


# -- database and server -----------------------------------------------------------------------
def start_server(onward: str, tmp: Path, db_url: str) -> common.Server:
    models = tmp / "models.toml"
    models.write_text('default = "scripted"\n[models.scripted]\nprovider = "scripted"\nscript = [{ text = "Noted, thank you." }]\n')
    return common.start_onward(onward, tmp, models, db_url, tmp / "onward.log", drop_env=("ONWARD_API_KEYS", "ONWARD_EMBEDDINGS", "ONWARD_DATABASE_URL"))


def stop_server(server: common.Server | None) -> None:
    if server is not None:
        common.stop_procs([server.proc])


# -- building the conversations ----------------------------------------------------------------


async def build_direct(db_url: str, sizes: dict[str, int], batch: int, say) -> dict[str, str]:
    """Write the conversations through ConversationStore before the server starts."""
    from onward.engine import context
    from onward.ids import new_id
    from onward.store.conversations import ConversationStore
    from onward.store.db import make_engine, migrate

    engine = make_engine(db_url)
    rng = random.Random(5)
    ids = {}
    try:
        await migrate(engine)
        store = ConversationStore(engine)
        for name, n in sizes.items():
            t0 = time.perf_counter()
            conv_id = new_id("conv")
            first = context.normalize_input(common.messages(rng, WORDS, min(n, batch)))
            await store.create(conv_id, {"bench": name}, first)
            done = len(first)
            while done < n:
                items = context.normalize_input(common.messages(rng, WORDS, min(batch, n - done)))
                assert await store.append(conv_id, items)
                done += len(items)
            dt = time.perf_counter() - t0
            say(f"{name}: {n:,} items written through ConversationStore in {dt:.1f} s ({n / dt:,.0f} items/s)")
            ids[name] = conv_id
    finally:
        await engine.dispose()
    return ids


async def build_api(server: common.Server, sizes: dict[str, int], concurrency: int, say) -> dict[str, str]:
    """POST /v1/conversations, then POST …/items, 20 items a request, `concurrency` at a time."""
    rng = random.Random(5)
    ids = {}
    clients = [httpx.AsyncClient(base_url=server.url, timeout=120) for _ in range(concurrency)]
    try:
        for name, n in sizes.items():
            t0 = time.perf_counter()
            r = await clients[0].post("/v1/conversations", json={"metadata": {"bench": name}, "items": common.messages(rng, WORDS, min(n, 20))})
            r.raise_for_status()
            conv_id = r.json()["id"]
            todo = iter(range(min(n, 20), n, 20))

            async def worker(client: httpx.AsyncClient, conv_id: str = conv_id, n: int = n, todo: Any = todo) -> None:
                for start in todo:
                    resp = await client.post(f"/v1/conversations/{conv_id}/items", json={"items": common.messages(rng, WORDS, min(20, n - start))})
                    resp.raise_for_status()

            await asyncio.gather(*(worker(c) for c in clients))
            dt = time.perf_counter() - t0
            say(f"{name}: {n:,} items sent through the API in {dt:.1f} s ({n / dt:,.0f} items/s)")
            ids[name] = conv_id
    finally:
        for c in clients:
            await c.aclose()
    return ids


async def ids_at(db_url: str, conv_id: str, positions: list[int]) -> dict[int, str]:
    """The item ids at some positions (read from the table the store writes)."""
    import sqlalchemy as sa

    from onward.store.db import make_engine
    from onward.store.models import conversation_items

    c = conversation_items.c
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(c.position, c.item_id).where((c.conversation_id == conv_id) & c.position.in_(positions)))
            return {r.position: r.item_id for r in rows}
    finally:
        await engine.dispose()


# -- the measurement ---------------------------------------------------------------------------
PAGES = ("first", "middle", "last")


async def cells(db_url: str, ids: dict[str, str], sizes: dict[str, int]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """For each conversation, order and page: the query string and what the page must hold."""
    out = {}
    for name, conv_id in ids.items():
        n = sizes[name]
        mid = n // 2
        # asc: positions 0.., after the item at mid-1 -> mid.., after n-21 -> n-20..n-1 (no more)
        # desc: positions n-1.., after the item at mid -> mid-1.., after 20 -> 19..0 (no more)
        cursors = {("asc", "middle"): mid - 1, ("asc", "last"): n - 21, ("desc", "middle"): mid, ("desc", "last"): 20}
        firsts = {("asc", "first"): 0, ("asc", "middle"): mid, ("asc", "last"): n - 20, ("desc", "first"): n - 1, ("desc", "middle"): mid - 1, ("desc", "last"): 19}
        at = await ids_at(db_url, conv_id, sorted(set(cursors.values()) | set(firsts.values())))
        for order in ("asc", "desc"):
            for page in PAGES:
                params = {"limit": "20", "order": order}
                if (order, page) in cursors:
                    params["after"] = at[cursors[(order, page)]]
                out[(name, order, page)] = {
                    "path": f"/v1/conversations/{conv_id}/items",
                    "params": params,
                    "first_id": at[firsts[(order, page)]],
                    "has_more": page != "last",
                }
    return out


async def measure(server: common.Server, plan: dict[tuple[str, str, str], dict[str, Any]], requests: int, warmup: int, say) -> dict[tuple[str, str, str], dict[str, Any]]:
    assert server.clock is not None
    results: dict[tuple[str, str, str], dict[str, Any]] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:

        async def one(key: tuple[str, str, str]) -> tuple[float, float, str | None]:
            cell = plan[key]
            c0 = server.clock()  # type: ignore[misc]
            t0 = time.perf_counter()
            r = await client.get(cell["path"], params=cell["params"])
            dt = time.perf_counter() - t0
            cpu = server.clock() - c0  # type: ignore[misc]
            bad = None
            if r.status_code != 200:
                bad = f"HTTP {r.status_code}: {r.text[:200]}"
            else:
                body = r.json()
                if len(body["data"]) != 20 or body["data"][0]["id"] != cell["first_id"] or body["has_more"] != cell["has_more"]:
                    bad = f"unexpected page: {len(body['data'])} items, first {body['data'][0]['id'] if body['data'] else None} (want {cell['first_id']}), has_more {body['has_more']}"
            return dt, cpu, bad

        for order in ("asc", "desc"):
            for page in PAGES:
                pair = [("small", order, page), ("big", order, page)]
                for key in pair:
                    for _ in range(warmup):
                        await one(key)
                times: dict[tuple[str, str, str], list[float]] = {k: [] for k in pair}
                cpus: dict[tuple[str, str, str], float] = {k: 0.0 for k in pair}
                errors: dict[tuple[str, str, str], list[str]] = {k: [] for k in pair}
                for i in range(requests):
                    for key in pair if i % 2 == 0 else pair[::-1]:  # take turns, alternating who goes first
                        dt, cpu, bad = await one(key)
                        times[key].append(dt)
                        cpus[key] += cpu
                        if bad:
                            errors[key].append(bad)
                for key in pair:
                    t = times[key]
                    results[key] = {
                        "n": len(t), "p50_ms": common.pct(t, 50) * 1e3, "p99_ms": common.pct(t, 99) * 1e3, "mean_ms": statistics.fmean(t) * 1e3,
                        "cpu_ms": cpus[key] / len(t) * 1e3, "errors": len(errors[key]), "error_sample": errors[key][:1],
                    }
                say(f"{order} {page}: small p50 {results[pair[0]]['p50_ms']:.2f} ms, big p50 {results[pair[1]]['p50_ms']:.2f} ms")
    return results


async def responses(server: common.Server, ids: dict[str, str], sizes: dict[str, int], n: int, say) -> dict[str, Any]:
    """POST /v1/responses with conversation=, n times per conversation (sequential)."""
    assert server.clock is not None
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
        warm = await client.post("/v1/responses", json={"model": "scripted", "input": "Warm-up.", "conversation": ids["small"], "truncation": "auto"})
        warm.raise_for_status()
        for name in ("small", "big"):
            times, cpu, errors = [], 0.0, []
            for i in range(n):
                body = {"model": "scripted", "input": f"One more question, number {i}.", "conversation": ids[name], "truncation": "auto"}
                c0, t0 = server.clock(), time.perf_counter()
                r = await client.post("/v1/responses", json=body)
                times.append(time.perf_counter() - t0)
                cpu += server.clock() - c0
                if r.status_code != 200 or r.json().get("status") != "completed":
                    errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
            out[name] = {"items": sizes[name], "n": n, "p50_ms": common.pct(times, 50) * 1e3, "max_ms": max(times) * 1e3, "cpu_ms": cpu / n * 1e3, "errors": len(errors), "error_sample": errors[:1]}
            say(f"responses.create on {name}: p50 {out[name]['p50_ms']:.0f} ms")
    return out


# -- output ------------------------------------------------------------------------------------
def render(console: Console, out: dict[str, Any]) -> list[str]:
    meta = out["meta"]
    sizes = meta["sizes"]
    rows = out["results"]
    console.print(f"[bold]Onward conversation paging benchmark[/] - database {meta['db']}, {meta['machine']}")
    t = Table(
        title=f"GET /v1/conversations/{{id}}/items?limit=20: small = {sizes['small']:,} items, big = {sizes['big']:,} items "
        f"({meta['requests']} requests each, sequential, warm; times in ms)",
        title_justify="left",
    )
    for col in ("order", "page", "small p50", "small p99", "big p50", "big p99", "big/small p50", "big/small p99", "server CPU ms/req small", "server CPU ms/req big", "err"):
        t.add_column(col, justify="left" if col in ("order", "page") else "right")
    worst = 0.0
    for order in ("asc", "desc"):
        for page in PAGES:
            s, b = rows[f"small/{order}/{page}"], rows[f"big/{order}/{page}"]
            r50, r99 = b["p50_ms"] / s["p50_ms"], b["p99_ms"] / s["p99_ms"]
            worst = max(worst, r50)
            how = {"first": "first (no cursor)", "middle": "middle (after = middle item)", "last": "last (after = 21st from the end)"}[page]
            t.add_row(
                order, how, f"{s['p50_ms']:.2f}", f"{s['p99_ms']:.2f}", f"{b['p50_ms']:.2f}", f"{b['p99_ms']:.2f}",
                common.good(r50 <= AIM_RATIO, f"{r50:.2f}x"), f"{r99:.2f}x", f"{s['cpu_ms']:.2f}", f"{b['cpu_ms']:.2f}",
                str(s["errors"] + b["errors"]) if s["errors"] + b["errors"] else "", end_section=page == "last",
            )
    console.print(t)
    console.print(
        "[dim]  asc pages: first = items 1-20, middle = from the middle item on, last = the final 20 (has_more false). desc (the API's default order) runs "
        "the other way: first = the newest 20. Every reply is checked: 20 items, the expected first id, the expected has_more. "
        f"Items written {meta['insert_note']}.[/]"
    )
    verdicts = []
    ok = worst <= AIM_RATIO
    line = f"paging a {sizes['big']:,}-item conversation: {'PASS' if ok else 'FAIL'} (aim: every page's p50 within {AIM_RATIO:g}x of the {sizes['small']:,}-item one's) - worst {worst:.2f}x"
    verdicts.append(line)
    resp = out.get("responses")
    if resp:
        console.print()
        t = Table(title="POST /v1/responses, conversation=, scripted model", title_justify="left")
        for col in ("conversation", "items", "n", "p50 ms", "max ms", "server CPU ms/req", "err"):
            t.add_column(col, justify="left" if col == "conversation" else "right")
        for name in ("small", "big"):
            r = resp[name]
            t.add_row(name, f"{r['items']:,}", str(r["n"]), f"{r['p50_ms']:.0f}", f"{r['max_ms']:.0f}", f"{r['cpu_ms']:.0f}", str(r["errors"]) if r["errors"] else "")
        console.print(t)
        ratio = resp["big"]["p50_ms"] / resp["small"]["p50_ms"]
        console.print(
            f"  big/small p50 = {ratio:.0f}x. [dim]A response reads the conversation's whole history (ConversationStore.all_items) and then fits it to "
            "the model's window (context.fit_context, truncation=auto drops the oldest items), so this cost grows with the conversation, unlike a page.[/]"
        )
    for v in verdicts:
        common.print_verdict(console, v)
    console.print(f"[dim]{meta['machine']}. The client and the server share the machine.[/]")
    return verdicts


# -- main --------------------------------------------------------------------------------------
async def run(args, say) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="onward-bench-conv-"))
    pg_db = None
    server = None
    sizes = {"small": args.small, "big": args.big}
    try:
        if args.db == "postgres":
            pg_db = f"onward_bench_conv_{os.getpid()}"
            common.psql(args.pg_url, f"CREATE DATABASE {pg_db}")
            db_url = f"{args.pg_url.rstrip('/')}/{pg_db}"
        else:
            db_url = f"sqlite:///{tmp / 'conv.db'}"
        t0 = time.perf_counter()
        if args.insert == "direct":
            ids = await build_direct(db_url, sizes, args.batch, say)
            note = f"directly through ConversationStore.create/append ({args.batch} items per transaction) before the server started"
            server = start_server(args.onward, tmp, db_url)
        else:
            server = start_server(args.onward, tmp, db_url)
            ids = await build_api(server, sizes, args.concurrency, say)
            note = f"through POST /v1/conversations/{{id}}/items, 20 items per request, {args.concurrency} requests at a time"
        build_s = time.perf_counter() - t0
        say(f"onward :{server.port} (pid {server.proc.pid}), data in {tmp}")
        plan = await cells(db_url, ids, sizes)
        results = await measure(server, plan, args.requests, args.warmup, say)
        out: dict[str, Any] = {
            "meta": {"sizes": sizes, "db": args.db, "requests": args.requests, "insert": args.insert, "insert_note": note, "build_s": build_s},
            "results": {"/".join(k): v for k, v in results.items()},
        }
        if args.responses:
            out["responses"] = await responses(server, ids, sizes, args.responses, say)
        return out
    finally:
        stop_server(server)
        if pg_db:
            with contextlib.suppress(subprocess.CalledProcessError):
                common.psql(args.pg_url, f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="server for --db postgres (a database is created and dropped)")
    ap.add_argument("--small", type=int, default=100, help="items in the small conversation (default 100)")
    ap.add_argument("--big", type=int, default=100_000, help="items in the big conversation (default 100000)")
    ap.add_argument("--insert", choices=("api", "direct"), default="api", help="send the items through the API (default) or write them through the store")
    ap.add_argument("--batch", type=int, default=1000, help="items per ConversationStore.append with --insert direct (default 1000)")
    ap.add_argument("--concurrency", type=int, default=8, help="concurrent POST …/items with --insert api (default 8)")
    ap.add_argument("--requests", "-n", type=int, default=300, help="timed requests per conversation and page (default 300)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--responses", type=int, default=3, help="POST /v1/responses with conversation= per conversation (default 3; 0 skips)")
    ap.add_argument("--json", type=Path, help="save the results here")
    ap.add_argument("--from-json", type=Path, metavar="FILE", help="only print the tables of a run saved with --json")
    ap.add_argument("--onward", default=str(common.VENV_BIN / "onward"), help="the onward executable (default: next to this python)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (log, SQLite file)")
    args = ap.parse_args(argv)
    if args.small < 42 or args.big < 42:
        ap.error("--small and --big must be at least 42 items (three distinct pages of 20)")

    console, say = common.make_console()
    if args.from_json:
        render(console, json.loads(args.from_json.read_text()))
        return 0
    machine = common.machine_info()
    t0 = time.perf_counter()
    out = common.run_async(run(args, say))
    out["meta"].update(machine=machine, started=time.strftime("%Y-%m-%dT%H:%M:%S"), argv=sys.argv)
    console.print()
    verdicts = render(console, out)
    out["verdicts"] = verdicts
    if args.json:
        common.save_json(args.json, out, say)
    errors = sum(r["errors"] for r in out["results"].values()) + sum(r["errors"] for r in out.get("responses", {}).values())
    if errors:
        console.print(f"[red]{errors} failed requests[/]: " + "; ".join(e for r in [*out["results"].values(), *out.get("responses", {}).values()] for e in r["error_sample"]))
    say(f"total {time.perf_counter() - t0:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
