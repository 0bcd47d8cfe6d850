"""Helpers shared by the benchmark scripts under bench/ (CPU clocks, percentiles, starting and
stopping `onward serve`, console and verdict output). Each script puts bench/ on sys.path and
imports this module as `common`."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console

VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- CPU clocks -----------------------------------------------------------------------------
class ProcClock:
    """CPU seconds used so far by another process (all its threads, live and exited).

    Uses the kernel's per-process CPU clock (clock_getcpuclockid: nanosecond resolution);
    falls back to utime+stime from /proc/<pid>/stat (clock ticks, 10 ms)."""

    _libc: Any = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.clock: int | None = None
        try:
            if ProcClock._libc is None:
                ProcClock._libc = ctypes.CDLL(None, use_errno=True)
            cid = ctypes.c_int()
            if ProcClock._libc.clock_getcpuclockid(pid, ctypes.byref(cid)) == 0:
                time.clock_gettime(cid.value)
                self.clock = cid.value
        except (OSError, AttributeError, ValueError):
            self.clock = None

    def __call__(self) -> float:
        if self.clock is not None:
            with contextlib.suppress(OSError):
                return time.clock_gettime(self.clock)
        with open(f"/proc/{self.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> float:
    """CPU seconds all processes on the machine have used (from /proc/stat)."""
    try:
        with open("/proc/stat", "rb") as f:
            cpu = f.readline().split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in cpu[:8])
        return (user + nice + system + irq + softirq + steal) / CLK_TCK
    except (OSError, ValueError):
        return float("nan")


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN if empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


# -- processes ------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(pg_url: str, sql: str) -> None:
    """Run one SQL statement with psql against database `test` of the server at `pg_url`."""
    u = urlsplit(pg_url)
    cmd = ["psql", "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]
    env = dict(os.environ, PGPASSWORD=u.password) if u.password else None
    subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)


@dataclass
class Server:
    """A running `onward serve`."""

    proc: subprocess.Popen
    port: int
    log: Path
    clock: ProcClock | None = None
    name: str = "onward"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def wait_healthy(proc: subprocess.Popen, url: str, log: Path, timeout: float = 60, label: str = "onward") -> None:
    """Poll `url`/health until it answers 200; SystemExit with the log's tail if `proc` exits
    or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{label} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{label} did not become healthy in {timeout:g} s:\n{log.read_text()[-3000:]}")


def start_fake_upstream(*extra: str) -> tuple[subprocess.Popen, int]:
    """bench/overhead/fake_upstream.py on a free port (`extra`: its options): (process, port).
    Exits the benchmark if it does not print READY."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parent / "overhead" / "fake_upstream.py"), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = proc.stdout.readline().strip() if proc.stdout else ""
    if not line.startswith("READY"):
        proc.kill()
        raise SystemExit(f"fake upstream did not start: {line!r}")
    return proc, int(line.split()[1])


def messages(rng: Any, words: Sequence[str], n: int) -> list[dict[str, Any]]:
    """`n` alternating user / assistant messages drawn from `words` (a random.Random `rng`):
    user turns of 10-60 words, replies of 40-200."""
    out = []
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        k = rng.randint(10, 60) if role == "user" else rng.randint(40, 200)
        out.append({"role": role, "content": " ".join(rng.choices(words, k=k)).capitalize() + "."})
    return out


def start_onward(
    onward: str, tmp: Path, models: Path, db_url: str, log: Path, *, port: int | None = None, drop_env: Sequence[str] = ("ONWARD_API_KEYS",),
    set_env: dict[str, str] | None = None, timeout: float = 60, name: str = "onward", label: str = "onward",
) -> Server:
    """`onward serve` on `port` (default: a free one) with data in tmp/data, cwd `tmp` and its
    output in `log`; returns once /health answers, with the process's CPU clock."""
    port = port or free_port()
    env = dict(os.environ, ONWARD_DATA_DIR=str(tmp / "data"))
    for key in drop_env:
        env.pop(key, None)
    env.update(set_env or {})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [onward, "serve", "--port", str(port), "--models", str(models), "--db", db_url, "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp,
        )
    server = Server(proc, port, log, name=name)
    try:
        wait_healthy(proc, server.url, log, timeout, label)
    except SystemExit:
        stop_procs([proc])
        raise
    server.clock = ProcClock(proc.pid)
    return server


def stop_procs(procs: Iterable[subprocess.Popen], timeout: float = 15) -> None:
    """SIGTERM every process still running, then wait for each (killing it after `timeout` s)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_async(coro):
    """Run a coroutine on uvloop if it is installed, else on asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


# -- output ---------------------------------------------------------------------------------
def make_console() -> tuple[Console, Callable[[str], None]]:
    """The console ($COLUMNS wide, default 180) and `say`, which prints a dim line on it."""
    console = Console(width=int(os.environ.get("COLUMNS", "0")) or 180, highlight=False)
    return console, lambda msg: console.print(f"[dim]{msg}[/]")


def machine_info() -> str:
    """Architecture, cores, Python version and the current 1-minute load average."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load avg at start {load[0]:.2f}"


def good(ok: bool, text: str) -> str:
    """`text` in green if `ok`, else in red (rich markup)."""
    return f"[green]{text}[/]" if ok else f"[red]{text}[/]"


def print_verdict(console: Console, line: str) -> None:
    """A VERDICT line, green if it says PASS, else red."""
    console.print(f"[bold]VERDICT[/] {good('PASS' in line, line)}")


def save_json(path: Path, out: Any, say: Callable[[str], None]) -> None:
    """Write the results to `path` as indented JSON and say so."""
    path.write_text(json.dumps(out, indent=2, default=str))
    say(f"saved {path}")
