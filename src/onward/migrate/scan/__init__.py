"""`onward migrate scan`: find every Assistants API call site in a codebase (Step 1 of the
migration guide, code side).

Python is parsed with libcst, JavaScript and TypeScript with tree-sitter: real parsers, so
comments, strings and a project's own `threads` module are never mistaken for the SDK.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

PYTHON_SUFFIXES = {".py", ".pyi"}
JS_SUFFIXES = {".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"}
SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", "dist", "build", ".tox", ".mypy_cache", "site-packages"}


@dataclass
class Finding:
    """One Assistants API use. `line` is 1-based, where the call (or read, or class) starts."""

    path: str
    line: int
    api: str  # `beta.threads.runs.create_and_poll`, `AssistantEventHandler`, `sse:<event>`, `usage.prompt_tokens`
    replacement: str
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "model gpt-4-turbo shut down 2026-10-23: use gpt-5.6-sol"
    language: str = "python"
    code: str = ""  # the source line, stripped

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ScanResult:
    findings: list[Finding]
    files_scanned: int
    errors: list[str]  # "path: reason" for files that could not be parsed

    def by_api(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.api] = counts.get(f.api, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def by_flag(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.findings:
            for flag in f.flags:
                counts[flag] = counts.get(flag, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def source_files(paths: list[Path]) -> Iterator[Path]:
    """Python and JS/TS files under `paths` (files given directly are always included),
    skipping virtualenvs, node_modules and VCS folders."""
    for root in paths:
        if root.is_file():
            yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(filenames):
                if Path(name).suffix in PYTHON_SUFFIXES | JS_SUFFIXES:
                    yield Path(dirpath) / name


# Every finding needs one of these in the source (a `.beta.` chain, an Assistants event name,
# an event handler class), so a file without them is skipped unparsed: most files of a codebase.
NEEDLES = (b"beta", b"thread.", b"AssistantEventHandler")


def scan_file(path: Path, display: str | None = None) -> list[Finding]:
    """Findings of one file, sorted by line. Raises `ValueError` when a Python file cannot be
    parsed (tree-sitter recovers from JS/TS syntax errors)."""
    source = path.read_bytes()
    name = display or str(path)
    if not any(needle in source for needle in NEEDLES):
        return []
    if path.suffix in PYTHON_SUFFIXES:
        from .python import scan_python

        return scan_python(source, name)
    from .javascript import scan_javascript

    return scan_javascript(source, name, tsx=path.suffix == ".tsx", typescript=path.suffix in {".ts", ".tsx", ".mts", ".cts"})


def scan(paths: list[Path], progress=None) -> ScanResult:
    """Scan files and folders. `progress(path)` is called before each file (for a progress bar)."""
    findings: list[Finding] = []
    errors: list[str] = []
    count = 0
    for path in source_files(paths):
        count += 1
        if progress:
            progress(path)
        try:
            findings.extend(scan_file(path))
        except (ValueError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: {exc}")
    findings.sort(key=lambda f: (f.path, f.line, f.api))
    return ScanResult(findings, count, errors)
