"""Reading py-spy's collapsed stacks for bench/overhead/run.py --profile: where the GIL time
goes (buckets), the top frames by self time, Onward's own functions by inclusive time."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

PROFILE_RATE = 400  # samples per second


# Where a sample's time goes: the first rule (in this order) that matches a frame of its stack.
BUCKETS = [
    # SQLAlchemy runs its sync core in a greenlet whose stack does not show the caller.
    ("store: SQLAlchemy + aiosqlite", ("_persist_new (", "ResponseStore.", "sqlalchemy/", "aiosqlite/")),
    ("upstream call: httpx/httpcore/anyio + SSE parse", ("Upstream.stream (", "iter_sse (", "_ChatStream.")),
    ("response events: pydantic models + JSON", ("ResponseBuilder.", "encode (onward/engine/events", "model_dump", "model_validate", "BaseModel.__init__")),
    ("request: parse, validate, prepare", ("ResponsesService.prepare (", "validate (onward/api", "parse_json (", "Request.body (")),
    ("reply send: starlette + uvicorn", ("SSEResponse.", "StreamingResponse.", "RequestResponseCycle.send (", "Response.__call__ (")),
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
