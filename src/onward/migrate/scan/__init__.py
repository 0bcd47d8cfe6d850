"""`onward migrate scan`: find every Assistants API call site in a codebase (Step 1 of the
migration guide, code side).

Python is parsed with libcst, JavaScript and TypeScript with tree-sitter: real parsers, so
comments, strings and a project's own `threads` module are never mistaken for the SDK.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
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
NEEDLES = (b"beta", b"thread.run", b"thread.message", b"thread.created", b"AssistantEventHandler")


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


def _scan_one(path: Path) -> tuple[Path, list[Finding], str | None]:
    try:
        return path, scan_file(path), None
    except (ValueError, UnicodeDecodeError) as exc:
        return path, [], f"{path}: {exc}"


def scan(paths: list[Path], progress=None) -> ScanResult:
    """Scan files and folders. `progress(path)` is called as each file is done (for a progress
    bar). Parsing is CPU-bound (libcst), so large trees are spread over the machine's cores."""
    files = list(source_files(paths))
    findings: list[Finding] = []
    errors: list[str] = []
    workers = min(os.cpu_count() or 1, 8)
    results: Iterator[tuple[Path, list[Finding], str | None]]
    if len(files) < 40 or workers == 1:
        results = map(_scan_one, files)
        pool = None
    else:
        pool = ProcessPoolExecutor(workers)
        results = pool.map(_scan_one, files, chunksize=16)
    try:
        for path, found, error in results:
            if progress:
                progress(path)
            findings.extend(found)
            if error:
                errors.append(error)
    finally:
        if pool is not None:
            pool.shutdown()
    findings.sort(key=lambda f: (f.path, f.line, f.api))
    return ScanResult(findings, len(files), errors)
