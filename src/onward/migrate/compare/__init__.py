"""`onward migrate compare`: the migration guide's testing method. Both paths get the same
suite through the official SDK; `results.json` and a self-contained `report.html` come out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config, ConfigError, load
from .html import render
from .metrics import summarize
from .runner import run_target, target_model

__all__ = ["Config", "ConfigError", "compare", "load", "render"]


def compare(config: Config, out: Path, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every target (one after the other, so they do not slow each other down), write
    `out/results.json` and `out/report.html`, return the results."""
    models = {t.name: target_model(config, t) for t in config.targets}
    turns = {}
    for target in config.targets:
        tick = (lambda name=target.name: progress(name)) if progress else None  # type: ignore[misc]
        turns[target.name] = run_target(config, target, tick)
    results = summarize(config, turns, models)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "report.html").write_text(render(results))
    return results
