"""The tables and verdicts of bench/overhead/run.py: one table per concurrency level, Onward
against LiteLLM when it ran, and one VERDICT line per aim."""

from __future__ import annotations

from typing import Any

import common
from rich.console import Console
from rich.table import Table

# The aims, and the peer to beat
AIM_ADDED_P50_MS = 2.0  # median added latency at concurrency 1
AIM_THROUGHPUT_RATIO = 0.5  # Onward req/s at the highest concurrency >= 0.5 x direct
LITELLM_CPU_MS = 7.5  # LiteLLM's CPU per bridged /v1/responses request, json (--litellm, quiet machine)
LITELLM_STREAM_CPU_MS = 23.0  # the same for a 20-chunk stream
# The next aims (issue 12): server CPU per stored response, and req/s at the highest level
AIM_CPU_JSON_MS = 0.5
AIM_CPU_STREAM_MS = 0.7
AIM_RPS = 2000


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(x: Any, digits: int = 2, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def _cpu_aim(v: Any) -> float | None:
    """The CPU aim of an Onward store=true row (issue 12), None for other rows."""
    return {"onward_json": AIM_CPU_JSON_MS, "onward_sse": AIM_CPU_STREAM_MS}.get(v.key)


def render(console: Console, results: dict[int, dict[str, dict[str, Any]]], vs: list[Any], meta: dict[str, Any]) -> list[str]:
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
        t.add_column("server CPU\nms/req", justify="right")
        t.add_column("loop\nbusy", justify="right")
        t.add_column("upstream\nconn/req", justify="right")
        t.add_column("client CPU\nms/req", justify="right")
        t.add_column("other\ncores", justify="right")
        t.add_column("err", justify="right")
        for v in vs:
            r = rows[v.key]
            added, vs_direct, cpu, aim = r.get("added_p50_ms"), r.get("throughput_ratio"), r.get("server_cpu_ms_per_req"), _cpu_aim(v)
            ours = v.target == "onward"
            t.add_row(
                v.label,
                fmt(r["p50_ms"]),
                fmt(r["p99_ms"]),
                fmt(r.get("first_event_p50_ms")),
                fmt(r.get("first_token_p50_ms")),
                common.good(added < AIM_ADDED_P50_MS, fmt(added, signed=True)) if ours and c == 1 and added is not None else fmt(added, signed=True),
                fmt(r.get("added_p99_ms"), signed=True),
                fmt(r["rps"], 0),
                common.good(vs_direct >= AIM_THROUGHPUT_RATIO, f"{vs_direct:.2f}x") if ours and c > 1 and vs_direct is not None else fmt(vs_direct, 2),
                common.good(cpu <= aim, fmt(cpu)) if aim is not None and cpu is not None else fmt(cpu),
                f"{100 * r['server_loop_busy']:.0f}%" if r.get("server_loop_busy") is not None else "-",
                fmt(r["upstream_conns_per_req"], 2) if v.server else "-",
                fmt(r["client_cpu_ms_per_req"]),
                fmt(r["other_cores"], 2),
                str(r["errors"]) if r["errors"] else "",
                end_section=v.key in ("direct_sse", "onward_sse", "onward_sse_nostore", "litellm_sse"),
            )
        console.print(t)
        console.print()
        if any(v.peer_of for v in vs):
            render_peer(console, c, rows, vs)

    ours = [v for v in vs if v.target == "onward"]
    verdicts: list[str] = []
    if 1 in results:
        rows = results[1]
        ok = all(rows[v.key]["added_p50_ms"] < AIM_ADDED_P50_MS for v in ours)
        verdicts.append(
            f"added latency @c=1: {'PASS' if ok else 'FAIL'} (aim: p50 < {AIM_ADDED_P50_MS:g} ms) - "
            f"store=true json {rows['onward_json']['added_p50_ms']:+.2f}, stream {rows['onward_sse']['added_p50_ms']:+.2f}; "
            f"store=false json {rows['onward_json_nostore']['added_p50_ms']:+.2f}, stream {rows['onward_sse_nostore']['added_p50_ms']:+.2f} ms"
        )
    high = [c for c in results if c > 1]
    if high:
        c = max(high)
        rows = results[c]
        ok = all(rows[v.key]["throughput_ratio"] >= AIM_THROUGHPUT_RATIO for v in ours)
        verdicts.append(
            f"throughput @c={c}: {'PASS' if ok else 'FAIL'} (aim: >= {AIM_THROUGHPUT_RATIO:g}x direct) - "
            f"store=true json {rows['onward_json']['throughput_ratio']:.2f}x, stream {rows['onward_sse']['throughput_ratio']:.2f}x; "
            f"store=false json {rows['onward_json_nostore']['throughput_ratio']:.2f}x, stream {rows['onward_sse_nostore']['throughput_ratio']:.2f}x"
        )
        rps = rows["onward_json"]["rps"]
        verdicts.append(
            f"stored json req/s @c={c}: {'PASS' if rps >= AIM_RPS else 'FAIL'} (aim: >= {AIM_RPS} on one core) - {rps:.0f} req/s "
            f"(its CPU alone would allow {1000 / rows['onward_json']['server_cpu_ms_per_req']:.0f}; the client shares the machine)"
        )
    worst = {v.key: max(rows[v.key]["server_cpu_ms_per_req"] for rows in results.values()) for v in ours}
    ok = worst["onward_json"] <= AIM_CPU_JSON_MS and worst["onward_sse"] <= AIM_CPU_STREAM_MS
    verdicts.append(
        f"Onward CPU per stored response: {'PASS' if ok else 'FAIL'} (aim: json <= {AIM_CPU_JSON_MS:g} ms, 20-chunk stream <= {AIM_CPU_STREAM_MS:g} ms, "
        f"at every level) - json {worst['onward_json']:.2f}, stream {worst['onward_sse']:.2f} ms; "
        f"store=false json {worst['onward_json_nostore']:.2f}, stream {worst['onward_sse_nostore']:.2f} ms"
    )
    peers = [(c, rows[v.key]) for c, rows in results.items() for v in vs if v.peer_of]
    if peers:
        ok = all((r["cpu_vs_onward"] or 0) > 1 for _, r in peers)
        verdicts.append(
            f"Onward vs LiteLLM {meta.get('litellm', '')}: {'PASS' if ok else 'FAIL'} (less CPU per /v1/responses request) - LiteLLM uses "
            + ", ".join(f"{r['cpu_vs_onward']:.1f}x ({'stream' if r['stream'] else 'json'} @c={c})" for c, r in peers)
            + " Onward's CPU"
        )
    elif not peers:
        console.print(
            f"[dim]no LiteLLM in this run (--litellm); on a quiet machine it spent about {LITELLM_CPU_MS:g} ms per bridged /v1/responses "
            f"request (json) and {LITELLM_STREAM_CPU_MS:g} ms per 20-chunk stream[/]"
        )
    for line in verdicts:
        common.print_verdict(console, line)
    up = [r["upstream_cpu_us_per_req"] for rows in results.values() for r in rows.values() if r["upstream_cpu_us_per_req"] is not None]
    if up:
        console.print(f"[dim]fake upstream CPU: {min(up):.0f}-{max(up):.0f} µs per request (not the bottleneck)[/]")
    other = max((r["other_cores"] or 0) for rows in results.values() for r in rows.values())
    if other > 0.2:
        console.print(f"[yellow]warning: other processes used up to {other:.2f} cores during a batch (see 'other cores'); figures are noisy[/]")
    console.print(f"[dim]{meta['machine']}. Client, proxies and the fake upstream share the machine; the client's own cost is in every column.[/]")
    return verdicts


def render_peer(console: Console, c: int, rows: dict[str, dict[str, Any]], vs: list[Any]) -> None:
    """Onward against LiteLLM at level `c`: server CPU per request and req/s, with ratios."""
    t = Table(title=f"Concurrency {c} - Onward vs LiteLLM, same rounds (ratio: LiteLLM CPU / Onward CPU; Onward req/s / LiteLLM req/s)", title_justify="left", header_style="bold")
    for name in ("request", "Onward CPU\nstore=true", "Onward CPU\nstore=false", "LiteLLM CPU\nms/req", "CPU ratio\nvs store=true", "CPU ratio\nvs store=false", "Onward\nreq/s", "LiteLLM\nreq/s", "req/s\nratio"):
        t.add_column(name, justify="left" if name == "request" else "right")
    for v in vs:
        if not v.peer_of:
            continue
        r, ours, nostore = rows[v.key], rows[v.peer_of], rows[v.peer_of + "_nostore"]
        t.add_row(
            f"/v1/responses {'stream' if v.stream else 'json'}",
            fmt(ours["server_cpu_ms_per_req"]),
            fmt(nostore["server_cpu_ms_per_req"]),
            fmt(r["server_cpu_ms_per_req"]),
            f"{r['cpu_vs_onward']:.1f}x" if r.get("cpu_vs_onward") else "-",
            fmt(ratio(r["server_cpu_ms_per_req"], nostore["server_cpu_ms_per_req"]), 1) + "x",
            fmt(ours["rps"], 0),
            fmt(r["rps"], 0),
            f"{r['onward_rps_ratio']:.1f}x" if r.get("onward_rps_ratio") else "-",
        )
    for v in vs:
        if v.target == "litellm_chat":  # reference: LiteLLM's own native path
            r = rows[v.key]
            t.add_row(f"[dim]LiteLLM /v1/chat/completions {'stream' if v.stream else 'json'}[/]", "", "", fmt(r["server_cpu_ms_per_req"]), "", "", "", fmt(r["rps"], 0), "")
    console.print(t)
    console.print()


