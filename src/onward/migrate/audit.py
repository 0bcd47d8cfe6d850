"""`onward migrate audit`: the migration guide's Step 1 inventory, from any server that speaks
the Assistants API: every assistant with its model, tools, tool resources and vector stores
(file counts and sizes), and for given thread ids their message and run counts, with flags for
what will not carry over as is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import openai

from .catalog import retired
from .export import _pages


def _count(fetch: Callable[..., Any]) -> int:
    return sum(1 for _ in _pages(fetch))


def assistant_flags(a: dict[str, Any]) -> list[str]:
    """What will not carry over as is, for one assistant object."""
    flags = []
    gone = retired(str(a.get("model") or ""))
    if gone:
        flags.append(f"retired_model: {a.get('model')} shuts down {gone.shutdown}, use {gone.replacement}")
    kinds = [t.get("type") for t in a.get("tools") or []]
    if "retrieval" in kinds or a.get("file_ids"):
        flags.append("v1: retrieval tool / file_ids need a vector store")
    if "code_interpreter" in kinds:
        flags.append("code_interpreter: becomes a tool with a container")
    if "file_search" in kinds:
        flags.append("file_search: pass vector_store_ids on every request (conversations have no tool_resources)")
    fmt = a.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        flags.append("response_format json_schema: becomes flat text.format")
    if any(t.get("type") == "function" and (t.get("function") or {}).get("strict") is None for t in a.get("tools") or []):
        flags.append("functions without strict: Responses defaults to strict, state it")
    return flags


def audit(client: openai.OpenAI, thread_ids: list[str]) -> dict[str, Any]:
    """`{"assistants": [...], "threads": [...], "totals": {...}}` as plain data."""
    assistants: list[dict[str, Any]] = []
    store_cache: dict[str, dict[str, Any]] = {}
    for a in _pages(client.beta.assistants.with_raw_response.list):
        resources = a.get("tool_resources") or {}
        stores = []
        for vs_id in (resources.get("file_search") or {}).get("vector_store_ids") or []:
            if vs_id not in store_cache:
                try:
                    vs = client.vector_stores.retrieve(vs_id)
                    store_cache[vs_id] = {"id": vs_id, "name": vs.name, "files": vs.file_counts.total, "bytes": vs.usage_bytes}
                except openai.NotFoundError:
                    store_cache[vs_id] = {"id": vs_id, "name": None, "files": 0, "bytes": 0, "missing": True}
            stores.append(store_cache[vs_id])
        assistants.append({
            "id": a["id"],
            "name": a.get("name"),
            "model": a.get("model"),
            "tools": [t.get("type") for t in a.get("tools") or []],
            "functions": [(t.get("function") or {}).get("name") for t in a.get("tools") or [] if t.get("type") == "function"],
            "vector_stores": stores,
            "code_interpreter_files": len((resources.get("code_interpreter") or {}).get("file_ids") or []),
            "flags": assistant_flags(a),
        })
    threads: list[dict[str, Any]] = []
    for thread_id in thread_ids:
        try:
            thread = client.beta.threads.retrieve(thread_id)
        except openai.NotFoundError:
            threads.append({"id": thread_id, "missing": True, "messages": 0, "runs": 0, "flags": ["not found on the server"]})
            continue
        fetch_messages = client.beta.threads.messages.with_raw_response.list
        fetch_runs = client.beta.threads.runs.with_raw_response.list
        runs = list(_pages(partial(fetch_runs, thread_id)))
        flags = []
        active = [r["id"] for r in runs if r.get("status") in ("queued", "in_progress", "requires_action", "cancelling")]
        if active:
            flags.append(f"active runs {active}: their tool calls will be closed on import")
        resources = thread.tool_resources.model_dump(exclude_none=True) if thread.tool_resources else {}
        if (resources.get("file_search") or {}).get("vector_store_ids"):
            flags.append("thread vector store: pass it on every request")
        threads.append({"id": thread_id, "messages": _count(partial(fetch_messages, thread_id)), "runs": len(runs), "flags": flags})
    totals = {
        "assistants": len(assistants),
        "vector_stores": len(store_cache),
        "vector_store_files": sum(s["files"] for s in store_cache.values()),
        "vector_store_bytes": sum(s["bytes"] for s in store_cache.values()),
        "threads": len(threads),
        "messages": sum(t["messages"] for t in threads),
        "runs": sum(t["runs"] for t in threads),
        "flagged_assistants": sum(1 for a in assistants if a["flags"]),
    }
    return {"assistants": assistants, "threads": threads, "totals": totals}


def markdown(report: dict[str, Any]) -> str:
    """The audit as a Markdown document."""
    t = report["totals"]
    out = ["# Assistants audit", "", f"{t['assistants']} assistants ({t['flagged_assistants']} flagged), {t['vector_stores']} vector stores "
           f"({t['vector_store_files']} files, {t['vector_store_bytes']} bytes), {t['threads']} threads with {t['messages']} messages and {t['runs']} runs.", "",
           "## Assistants", "", "| id | name | model | tools | vector stores | flags |", "|---|---|---|---|---|---|"]
    for a in report["assistants"]:
        stores = ", ".join(f"{s['id']} ({s['files']} files, {s['bytes']} B)" for s in a["vector_stores"])
        out.append(f"| {a['id']} | {a['name'] or ''} | {a['model']} | {', '.join(a['tools'])} | {stores} | {'<br>'.join(a['flags'])} |")
    if report["threads"]:
        out += ["", "## Threads", "", "| id | messages | runs | flags |", "|---|---:|---:|---|"]
        out += [f"| {th['id']} | {th['messages']} | {th['runs']} | {'<br>'.join(th['flags'])} |" for th in report["threads"]]
    return "\n".join(out) + "\n"
