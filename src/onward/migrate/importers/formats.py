"""Readers for the shapes exports come in; each yields records one at a time (memory stays
flat whatever the file's size) and reports a bad line as `FILE:LINE: reason`.

- the directory `onward migrate export` writes (manifest.json, *.jsonl);
- raw list pages (`{"object": "list", "data": [...]}`) of messages, runs or steps, v1 or v2;
- JSON Lines, one message (or any API object) per line, flexible keys;
- CSV with the same columns as the JSON Lines rows;
- JSON files holding one object, an array, or a dump `{"assistants": [...], "threads": [...]}`
  whose threads may nest their `messages`, `runs` and `steps`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .records import BadRecord, Record, record_from_object

SUFFIXES = {".json", ".jsonl", ".ndjson", ".csv"}
Report = Callable[[str], None]  # receives "FILE:LINE: reason"


def detect(path: Path) -> str:
    """`export-dir`, `dir`, `jsonl`, `csv` or `json`; ValueError for anything else."""
    if path.is_dir():
        return "export-dir" if (path / "manifest.json").exists() else "dir"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(4096).lstrip()
        # one object per line also hides behind .json: several top-level values on lines
        if head.startswith(b"{") and b"\n{" in head and not head.rstrip().endswith(b"}"):
            return "jsonl" if _looks_like_lines(path) else "json"
        return "json"
    raise ValueError(f"{path}: not a directory, .json, .jsonl or .csv file")


def _looks_like_lines(path: Path) -> bool:
    with path.open("rb") as fh:
        first = fh.readline()
    try:
        json.loads(first)
        return True
    except json.JSONDecodeError:
        return False


def read(path: Path, report: Report) -> Iterator[Record]:
    """Every record under `path`, in file order."""
    kind = detect(path)
    if kind == "export-dir":
        yield from _export_dir(path, report)
    elif kind == "dir":
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in SUFFIXES:
                yield from read(child, report)
    elif kind == "jsonl":
        yield from _jsonl(path, report)
    elif kind == "csv":
        yield from _csv(path, report)
    else:
        yield from _json(path, report)


def _jsonl(path: Path, report: Report, default_thread: str | None = None) -> Iterator[Record]:
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
                yield record_from_object(obj, where, default_thread)
            except json.JSONDecodeError as exc:
                report(f"{where}: not valid JSON ({exc.msg})")
            except BadRecord as exc:
                report(f"{where}: {exc}")


def _csv(path: Path, report: Report) -> Iterator[Record]:
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        sample = fh.read(8192)
        fh.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(fh, dialect=dialect)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            clean = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
            try:
                yield record_from_object(clean, where)
            except BadRecord as exc:
                report(f"{where}: {exc}")


def _json(path: Path, report: Report) -> Iterator[Record]:
    try:
        with path.open("rb") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        report(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})")
        return
    yield from _value(data, str(path), report)


# In a dump, what a list is filed under says what its entries are, `object` key or not.
DUMP_KEYS = {"assistants": "assistant", "threads": "thread", "messages": "thread.message", "runs": "thread.run", "steps": "thread.run.step"}


def _value(data: Any, where: str, report: Report, thread: str | None = None, kind: str | None = None) -> Iterator[Record]:
    if isinstance(data, list):
        for i, entry in enumerate(data):
            yield from _entry(entry, f"{where}[{i}]", report, thread, kind)
    elif isinstance(data, dict) and data.get("object") == "list" and isinstance(data.get("data"), list):
        yield from _value(data["data"], f"{where}.data", report, thread, kind)
    elif isinstance(data, dict) and any(k in data for k in DUMP_KEYS) and "object" not in data and "role" not in data:
        for key, inner in DUMP_KEYS.items():
            if key in data:
                yield from _value(data[key], f"{where}.{key}", report, thread, inner)
    else:
        yield from _entry(data, where, report, thread, kind)


def _entry(entry: Any, where: str, report: Report, thread: str | None, kind: str | None = None) -> Iterator[Record]:
    if isinstance(entry, dict) and entry.get("object") == "list":
        yield from _value(entry, where, report, thread, kind)
        return
    if isinstance(entry, dict) and kind and "object" not in entry:
        entry = {**entry, "object": kind}
    nested = {k: entry.pop(k) for k in ("messages", "runs", "steps") if isinstance(entry, dict) and isinstance(entry.get(k), list | dict)}
    try:
        record = record_from_object(entry, where, thread)
    except BadRecord as exc:
        report(f"{where}: {exc}")
        return
    yield record
    inner = record.id if record.kind == "thread" else thread
    for key, value in nested.items():
        yield from _value(value, f"{where}.{key}", report, inner, DUMP_KEYS[key])


def _export_dir(root: Path, report: Report) -> Iterator[Record]:
    for name in ("assistants.jsonl",):
        if (root / name).exists():
            yield from _jsonl(root / name, report)
    threads = root / "threads"
    for folder in sorted(p for p in threads.iterdir() if p.is_dir()) if threads.exists() else []:
        for name in ("thread.json", "messages.jsonl", "runs.jsonl", "steps.jsonl"):
            part = folder / name
            if not part.exists():
                continue
            if part.suffix == ".json":
                yield from _json(part, report)
            else:
                yield from _jsonl(part, report, folder.name)
