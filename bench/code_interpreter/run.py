"""Code interpreter figures: time to a container's first result (cold: the sandbox and kernel
start), to a second call (warm), and memory per idle container (RSS of the kernel's process
tree, bwrap included), before and after importing pandas and matplotlib.

    PYTHONPATH=src .venv/bin/python bench/code_interpreter/run.py [--containers 3]

It drives the same Kernel the server uses (real bubblewrap, real ipykernel), one container
after another; the server adds one HTTP round trip and a model turn around each call.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from onward.tools.code_interpreter import sandbox
from onward.tools.code_interpreter.kernel import Kernel


async def one(n: int, root: Path) -> dict[str, float]:
    work = root / f"c{n}"
    work.mkdir()
    kernel = Kernel(f"cntr_bench{n}", work, sandbox.Limits())
    t = time.perf_counter()
    await kernel.start()
    first = await kernel.execute("print(6 * 7)", 120)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    second = await kernel.execute("print(6 * 7)", 120)
    warm = time.perf_counter() - t
    assert first.logs.strip() == second.logs.strip() == "42", (first.logs, second.logs)
    idle = kernel.memory_rss()
    await kernel.execute("import pandas, matplotlib.pyplot", 120)
    loaded = kernel.memory_rss()
    await kernel.stop()
    return {"cold_ms": cold * 1000, "warm_ms": warm * 1000, "idle_mib": idle / 2**20, "loaded_mib": loaded / 2**20}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=3)
    args = parser.parse_args()
    problem = sandbox.check()
    if problem:
        raise SystemExit(problem)
    root = Path(tempfile.mkdtemp(prefix="onward-ci-bench-"))
    try:
        rows = [await one(n, root) for n in range(args.containers)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for key, label in (("cold_ms", "first result, cold (ms)"), ("warm_ms", "second call, warm (ms)"), ("idle_mib", "idle container RSS (MiB)"), ("loaded_mib", "RSS with pandas+matplotlib (MiB)")):
        values = [r[key] for r in rows]
        print(f"{label:36} median {statistics.median(values):8.1f}   min {min(values):8.1f}   max {max(values):8.1f}")


if __name__ == "__main__":
    asyncio.run(main())
