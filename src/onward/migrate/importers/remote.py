"""Write staged threads to any server that speaks the Conversations API (Onward, or OpenAI
itself) with the official SDK: the migration guide's backfill, done right.

Each thread becomes a conversation (`metadata.thread_id` keeps the old id) and its items are
added 20 at a time (the API's limit), images, tool calls and their outputs included. A mapping
file `thread_id → conversation_id` is written after every thread, with how many items were
sent, so an interrupted backfill resumes where it stopped. The SDK retries 429 and 5xx with
backoff.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .items import message_item, step_items
from .local import Tally
from .staging import Staging

PER_CALL = 20  # POST /v1/conversations/{id}/items takes at most 20 items


def _input_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as the Conversations API takes it as input (no ids, no status)."""
    if item["type"] == "message":
        if item["role"] == "assistant":
            text = "".join(p.get("text", "") for p in item["content"] if p["type"] == "output_text")
            return {"type": "message", "role": "assistant", "content": text}
        return {"type": "message", "role": item["role"], "content": [{k: v for k, v in p.items() if v is not None} for p in item["content"]]}
    if item["type"] == "function_call":
        return {"type": "function_call", "call_id": item["call_id"], "name": item["name"], "arguments": item["arguments"]}
    return {"type": "function_call_output", "call_id": item["call_id"], "output": item["output"]}


def write_remote(client: Any, staging: Staging, mapping_path: Path, *, dry_run: bool, progress: Callable[[int], None] = lambda n: None) -> Tally:
    """Backfill every staged thread through `client` (an `openai.OpenAI`)."""
    tally = Tally()
    mapping: dict[str, dict[str, Any]] = json.loads(mapping_path.read_text()) if mapping_path.exists() else {}
    for thread_id in staging.thread_ids():
        thread = staging.thread(thread_id) or {}
        items: list[dict[str, Any]] = []
        for kind, body in staging.timeline(thread_id):
            items.extend([message_item(body)[0]] if kind == "message" else step_items(body))
        done = mapping.get(thread_id, {})
        sent = int(done.get("items", 0))
        if done and sent >= len(items):
            tally.threads_existing += 1
            tally.skipped += len(items)
            progress(len(items) or 1)
            continue
        tally.skipped += sent
        if dry_run:
            tally.threads += 0 if done else 1
            tally.messages += sum(1 for i in items[sent:] if i["type"] == "message")
            tally.tool_calls += sum(1 for i in items[sent:] if i["type"] != "message")
            progress(len(items) or 1)
            continue
        if not done:
            metadata = {k: str(v)[:512] for k, v in list(((thread.get("metadata") or {})).items())[:15]}
            metadata["thread_id"] = thread_id
            conv = client.conversations.create(metadata=metadata)
            done = {"conversation_id": conv.id, "items": 0}
            tally.threads += 1
        else:
            tally.threads_existing += 1
        for begin in range(sent, len(items), PER_CALL):
            chunk = items[begin : begin + PER_CALL]
            client.conversations.items.create(done["conversation_id"], items=[_input_item(i) for i in chunk])
            done["items"] = begin + len(chunk)
            mapping[thread_id] = done
            mapping_path.write_text(json.dumps(mapping, indent=2))
            tally.messages += sum(1 for i in chunk if i["type"] == "message")
            tally.tool_calls += sum(1 for i in chunk if i["type"] != "message")
            progress(len(chunk))
        mapping[thread_id] = done
        mapping_path.write_text(json.dumps(mapping, indent=2))
    return tally
