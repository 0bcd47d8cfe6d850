"""Migration toolkit figures: import throughput and peak memory for one 100,000-message thread
on SQLite and PostgreSQL, and scan time for a 1,000-file codebase.

    .venv/bin/python bench/migrate/run.py [--messages 100000] [--files 1000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Each import runs the real CLI in a child process that reports its own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "migrate" / "corpus"
# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a child of a large
# test process would report its parent's peak.
MEASURED = """
import sys
from onward.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(f"peak_rss_kb={hwm.split()[1]}", file=sys.stderr)
"""


def write_thread(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"thread_id": "thread_bench", "id": f"msg_b{i:07d}", "role": "user" if i % 2 == 0 else "assistant", "text": f"message {i} " + "lorem ipsum " * 8, "created_at": 1700000000 + i // 3}) + "\n")


def timed_import(rows: Path, db: str) -> tuple[float, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, "migrate", "import", str(rows), "--db", db], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return elapsed, int(done.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = folder / "thread.jsonl"
        write_thread(rows, args.messages)
        print(f"import of one {args.messages:,}-message thread (JSON Lines, {rows.stat().st_size / 1e6:.0f} MB)")
        elapsed, peak = timed_import(rows, f"sqlite:///{folder / 'bench.db'}")
        print(f"  SQLite      {elapsed:6.1f} s   {args.messages / elapsed:8,.0f} messages/s   peak {peak:5.0f} MB")
        import psycopg

        name = f"onward_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            elapsed, peak = timed_import(rows, args.pg.rsplit("/", 1)[0] + "/" + name)
            print(f"  PostgreSQL  {elapsed:6.1f} s   {args.messages / elapsed:8,.0f} messages/s   peak {peak:5.0f} MB")
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # A codebase where one file in ten uses the Assistants API (the corpus) and the rest is
        # ordinary code (Onward's own sources, some of which name Assistants events).
        code = folder / "codebase"
        corpus = [p for p in CORPUS.rglob("*") if p.suffix in (".py", ".ts", ".js")]
        ordinary = sorted((ROOT / "src").rglob("*.py"))
        for i in range(args.files):
            src = corpus[i // 10 % len(corpus)] if i % 10 == 0 else ordinary[i % len(ordinary)]
            dest = code / f"pkg{i // 50}" / f"m{i}{src.suffix}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "onward.cli", "migrate", "scan", str(code), "--json"], capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - start
        print(f"scan of {args.files:,} files: {elapsed:.1f} s ({args.files / elapsed:,.0f} files/s, {len(json.loads(done.stdout)):,} call sites; includes interpreter start)")


if __name__ == "__main__":
    main()
