"""`onward migrate export`: pull Assistants data out of any server that still speaks the
Assistants API, into a directory of JSON exactly as the API returned it.

Layout (every `.jsonl` holds one API object per line, oldest first):

    OUT/manifest.json                 source, time, and which threads are done
    OUT/assistants.jsonl
    OUT/files.jsonl                   file metadata (purpose=assistants bytes cannot be downloaded)
    OUT/vector_stores.jsonl
    OUT/vector_stores/<vs_id>.files.jsonl
    OUT/threads/<thread_id>/thread.json, messages.jsonl, runs.jsonl, steps.jsonl

The Assistants API cannot list threads, so their ids come from the caller. A thread is written
to a scratch folder and renamed when complete, and the manifest marks it done, so an
interrupted export resumes where it stopped. The official SDK retries 429 and 5xx with
exponential backoff (honouring Retry-After).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import openai

STEP_INCLUDE: list[Any] = ["step_details.tool_calls[*].file_search.results[*].content"]


@dataclass
class ExportSummary:
    assistants: int = 0
    files: int = 0
    vector_stores: int = 0
    threads: int = 0
    threads_skipped: int = 0  # already done by an earlier run
    messages: int = 0
    runs: int = 0
    steps: int = 0
    missing: list[str] = field(default_factory=list)  # thread ids the server does not know


def _pages(fetch: Callable[..., Any], **params: Any) -> Iterator[dict[str, Any]]:
    """Every object of a list endpoint, oldest first, as raw JSON. `fetch` is a
    `with_raw_response.list` method of the SDK."""
    after = None
    while True:
        query = {**params, "limit": 100, "order": "asc"}
        if after:
            query["after"] = after
        page = json.loads(fetch(**query).text)
        data = page.get("data") or []
        yield from data
        if not page.get("has_more") or not data:
            return
        after = data[-1]["id"]


def _write_lines(path: Path, objects: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w") as fh:
        for obj in objects:
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_thread_ids(path: Path) -> list[str]:
    """Thread ids, one per line; blank lines and `#` comments ignored; duplicates once."""
    seen: dict[str, None] = {}
    for line in path.read_text().splitlines():
        value = line.split("#", 1)[0].strip().strip(",").strip('"')
        if value:
            seen[value] = None
    return list(seen)


def export(client: openai.OpenAI, thread_ids: list[str], out: Path, *, progress: Callable[[str], None] = lambda s: None) -> ExportSummary:
    """Export assistants, files, vector stores and the given threads into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.update({"format": "onward-export", "version": 1, "source": str(client.base_url), "exported_at": int(time.time())})
    manifest.setdefault("threads", {})
    summary = ExportSummary()

    def save() -> None:
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2))
        tmp.replace(manifest_path)

    save()
    progress("assistants")
    summary.assistants = _write_lines(out / "assistants.jsonl", _pages(client.beta.assistants.with_raw_response.list))
    progress("files")
    summary.files = _write_lines(out / "files.jsonl", _pages(client.files.with_raw_response.list))
    progress("vector stores")
    stores = list(_pages(client.vector_stores.with_raw_response.list))
    summary.vector_stores = _write_lines(out / "vector_stores.jsonl", iter(stores))
    (out / "vector_stores").mkdir(exist_ok=True)
    for store in stores:
        fetch = partial(client.vector_stores.files.with_raw_response.list, store["id"])
        _write_lines(out / "vector_stores" / f"{store['id']}.files.jsonl", _pages(fetch))
    threads_dir = out / "threads"
    threads_dir.mkdir(exist_ok=True)
    for thread_id in thread_ids:
        progress(thread_id)
        if manifest["threads"].get(thread_id) == "done":
            summary.threads_skipped += 1
            continue
        try:
            if "/" in thread_id or thread_id.startswith("."):
                raise ValueError(thread_id)  # not a thread id at all: never a path
            counts = _thread(client, thread_id, threads_dir)
        except (openai.NotFoundError, ValueError):
            summary.missing.append(thread_id)
            manifest["threads"][thread_id] = "missing"
            save()
            continue
        summary.threads += 1
        summary.messages += counts[0]
        summary.runs += counts[1]
        summary.steps += counts[2]
        manifest["threads"][thread_id] = "done"
        save()
    return summary


def _thread(client: openai.OpenAI, thread_id: str, threads_dir: Path) -> tuple[int, int, int]:
    scratch = threads_dir / f".{thread_id}.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    thread = json.loads(client.beta.threads.with_raw_response.retrieve(thread_id).text)  # 404 before any folder exists
    scratch.mkdir()
    (scratch / "thread.json").write_text(json.dumps(thread, ensure_ascii=False, indent=1))
    messages = _write_lines(scratch / "messages.jsonl", _pages(partial(client.beta.threads.messages.with_raw_response.list, thread_id)))
    runs = list(_pages(partial(client.beta.threads.runs.with_raw_response.list, thread_id)))
    _write_lines(scratch / "runs.jsonl", iter(runs))
    fetch_steps = client.beta.threads.runs.steps.with_raw_response.list

    def all_steps() -> Iterator[dict[str, Any]]:
        for run in runs:
            yield from _pages(partial(fetch_steps, run["id"], thread_id=thread_id, include=STEP_INCLUDE))

    steps = _write_lines(scratch / "steps.jsonl", all_steps())
    final = threads_dir / thread_id
    shutil.rmtree(final, ignore_errors=True)
    scratch.rename(final)
    return messages, len(runs), steps
