"""The partial assistant message of a run cut short (cancelled, expired, failed, or orphaned by
a crash): kept in the thread with status `incomplete`, as OpenAI keeps it.

Its text is what the model had produced: from the worker's own copy while it runs, or, when
the worker's process died, from the run's stored `thread.message.delta` events.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from .objects import parts_to_content

# Message.incomplete_details.reason (openai.types.beta.threads.message), per run outcome
REASONS = {"cancelled": "run_cancelled", "expired": "run_expired", "failed": "run_failed", "incomplete": "max_tokens"}


def partial_item(message_id: str, text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """The thread item (a Responses message) of a partial assistant message. `annotations`
    are in the Responses form (`index` into `text`), as a finished message's are stored."""
    part = {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}
    return {"type": "message", "id": message_id, "role": "assistant", "status": "incomplete", "content": [part]}


def mark_incomplete(message: dict[str, Any], item: dict[str, Any], outcome: str) -> dict[str, Any]:
    """Set the Assistants message object to its kept, incomplete form; returns its stored
    Assistants fields (as `insert_message_fields` takes them)."""
    now = int(time.time())
    message["content"] = parts_to_content(item["content"])
    message["status"] = "incomplete"
    message["incomplete_at"] = now
    message["incomplete_details"] = {"reason": REASONS.get(outcome, "run_failed")}
    extra = {"incomplete_details": message["incomplete_details"], "incomplete_at": now}
    return {"message_id": message["id"], "run_id": message.get("run_id"), "assistant_id": message.get("assistant_id"), "extra": extra}


def from_events(events: list[tuple[int, str, str]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(message object, thread item) of each message a run's stored events opened and never
    ended. A delta carrying a file citation holds only its marker (see Translator), so the
    marker becomes a Responses annotation at that point of the text."""
    opened: dict[str, dict[str, Any]] = {}
    texts: dict[str, list[str]] = {}
    notes: dict[str, list[dict[str, Any]]] = {}
    for _seq, name, data in events:
        if name == "thread.message.created":
            msg = orjson.loads(data)
            opened[msg["id"]] = msg
            texts[msg["id"]], notes[msg["id"]] = [], []
        elif name in ("thread.message.completed", "thread.message.incomplete"):
            opened.pop(orjson.loads(data)["id"], None)
        elif name == "thread.message.delta":
            delta = orjson.loads(data)
            if delta["id"] not in opened:
                continue
            for part in (delta.get("delta") or {}).get("content") or []:
                text = part.get("text") or {}
                cites = [a for a in text.get("annotations") or [] if a.get("type") == "file_citation"]
                if cites:
                    marker = str(text.get("value") or "")
                    filename = marker.split("\u2020", 1)[1].rstrip("\u3011") if "\u2020" in marker else None
                    at = sum(len(t) for t in texts[delta["id"]])
                    notes[delta["id"]].append({"type": "file_citation", "file_id": (cites[0].get("file_citation") or {}).get("file_id"), "filename": filename, "index": at})
                else:
                    texts[delta["id"]].append(str(text.get("value") or ""))
    return [(msg, partial_item(mid, "".join(texts[mid]), notes[mid])) for mid, msg in opened.items()]
