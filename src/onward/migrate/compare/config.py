"""The compare config (TOML) and its suite (JSON Lines), checked before anything runs.

```toml
suite = "suite.jsonl"        # relative to the config file
repeats = 3                  # each conversation runs this many times per target
concurrency = 4              # conversations in flight per target
max_retries = 5              # SDK retries (429 and 5xx, with backoff)
[pricing.MODEL]              # USD per million tokens
input = 0.15
output = 0.60
[targets.old]
kind = "assistants"          # base_url, api_key, assistant_id
[targets.new]
kind = "responses"           # base_url, api_key, model, instructions, tools, … or settings_file
```
Suite lines: `input` (string or items), optional `expect_tool` `{name, arguments}`, `expect_text`
(regex), `tool_outputs` `{tool name: output}`, `conversation` (turns with the same value run in
order on one thread / response chain).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESPONSES_KEYS = ("model", "instructions", "tools", "tool_choice", "temperature", "top_p", "text", "max_output_tokens", "reasoning", "truncation", "parallel_tool_calls", "store", "metadata")


class ConfigError(ValueError):
    """A config or suite mistake, with the file (and line) it is in."""


@dataclass
class Case:
    index: int
    conversation: str
    input: str | list
    expect_tool: dict | None = None
    expect_text: str | None = None
    tool_outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Target:
    name: str
    kind: str
    base_url: str | None
    api_key: str | None
    assistant_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    suite: list[Case]
    targets: list[Target]
    repeats: int = 1
    concurrency: int = 4
    max_retries: int = 5
    pricing: dict[str, dict[str, float]] = field(default_factory=dict)

    def conversations(self) -> dict[str, list[Case]]:
        """Cases grouped by conversation, in suite order."""
        out: dict[str, list[Case]] = {}
        for case in self.suite:
            out.setdefault(case.conversation, []).append(case)
        return out


def load(path: Path) -> Config:
    """Read and check a compare config. Raises ConfigError naming the field."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if "suite" not in raw:
        raise ConfigError(f"{path}: `suite` (a JSON Lines file) is required")
    suite = load_suite((path.parent / raw["suite"]).resolve())
    targets = []
    for name, spec in (raw.get("targets") or {}).items():
        kind = spec.get("kind")
        # A misspelt key (max_tokens for max_output_tokens) would otherwise be dropped silently
        # and the two paths compared on different settings.
        known = {"kind", "base_url", "api_key", *(("assistant_id",) if kind == "assistants" else ("settings_file", *RESPONSES_KEYS))}
        unknown = sorted(set(spec) - known)
        if kind in ("assistants", "responses") and unknown:
            raise ConfigError(f"{path}: targets.{name}.{unknown[0]} is not a setting of a kind = \"{kind}\" target (known: {', '.join(sorted(known))})")
        if kind == "assistants":
            if not spec.get("assistant_id"):
                raise ConfigError(f"{path}: targets.{name}.assistant_id is required for kind = \"assistants\"")
            targets.append(Target(name, kind, spec.get("base_url"), spec.get("api_key"), assistant_id=spec["assistant_id"]))
        elif kind == "responses":
            settings = {k: v for k, v in spec.items() if k in RESPONSES_KEYS}
            if spec.get("settings_file"):
                settings = {**json.loads((path.parent / spec["settings_file"]).read_text()), **settings}
            if not settings.get("model"):
                raise ConfigError(f"{path}: targets.{name}.model (or a settings_file with one) is required for kind = \"responses\"")
            targets.append(Target(name, kind, spec.get("base_url"), spec.get("api_key"), settings=settings))
        else:
            raise ConfigError(f"{path}: targets.{name}.kind must be \"assistants\" or \"responses\", got {kind!r}")
    if len(targets) < 2:
        raise ConfigError(f"{path}: at least two [targets.NAME] tables are needed")
    repeats, concurrency = int(raw.get("repeats", 1)), int(raw.get("concurrency", 4))
    if repeats < 1 or concurrency < 1:
        raise ConfigError(f"{path}: repeats and concurrency must be at least 1")
    return Config(suite, targets, repeats, concurrency, int(raw.get("max_retries", 5)), raw.get("pricing") or {})


def load_suite(path: Path) -> list[Case]:
    """The suite's cases; a bad line raises ConfigError as FILE:LINE."""
    cases: list[Case] = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"suite {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("input"), str | list):
            raise ConfigError(f"{path}:{number}: `input` (a string or a list of items) is required")
        expect = row.get("expect_tool")
        if expect is not None and not (isinstance(expect, dict) and isinstance(expect.get("name"), str)):
            raise ConfigError(f"{path}:{number}: expect_tool must be {{name, arguments}}")
        cases.append(Case(len(cases), str(row.get("conversation", f"case-{len(cases)}")), row["input"], expect, row.get("expect_text"), row.get("tool_outputs") or {}))
    if not cases:
        raise ConfigError(f"{path}: the suite is empty")
    return cases
