"""Assistants objects → conversation items: the same history, readable by both faces.

A message becomes a `message` item (Responses content parts); its Assistants-only fields
(run, assistant, attachments, metadata and the original content with its citation markers)
are kept beside it, so `/v1/threads/{id}/messages` shows the message exactly as exported while
`/v1/conversations/{id}/items` and the model see the Responses form. A run step's function
calls become `function_call` + `function_call_output` pairs; a call that never got its output
(the run died) is closed with an explanatory output, since an unanswered call poisons every
later turn.
"""

from __future__ import annotations

import re
from typing import Any

UNANSWERED = "[no output: the run ended before this tool call was answered]"
MARKER = re.compile(r"【[^】]*】")


def _responses_text(value: str, annotations: list[dict[str, Any]], role: str) -> dict[str, Any]:
    if role != "assistant":
        return {"type": "input_text", "text": value}
    # Assistants citations are markers inside the text; Responses ones an index into it.
    spans = sorted((a for a in annotations if a.get("type") == "file_citation" and isinstance(a.get("start_index"), int)), key=lambda a: a["start_index"])
    out: list[dict[str, Any]] = []
    text, cursor, removed = [], 0, 0
    for a in spans:
        start, end = a["start_index"], a.get("end_index", a["start_index"])
        if start < cursor or not MARKER.fullmatch(value[start:end] or ""):
            continue
        text.append(value[cursor:start])
        removed += end - start
        cursor = end
        cite = a.get("file_citation") or {}
        out.append({"type": "file_citation", "file_id": cite.get("file_id"), "filename": cite.get("filename") or "", "index": start - (removed - (end - start))})
    text.append(value[cursor:])
    return {"type": "output_text", "text": "".join(text), "annotations": out, "logprobs": []}


def message_item(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(conversation item, Assistants fields row) of an exported message object."""
    role = body["role"]
    parts: list[dict[str, Any]] = []
    for part in body["content"]:
        kind = part.get("type")
        if kind == "text":
            parts.append(_responses_text(part["text"]["value"], part["text"].get("annotations") or [], role))
        elif kind in ("image_file", "image_url") and role == "user":
            image = part[kind]
            ref = {"file_id": image.get("file_id")} if kind == "image_file" else {"image_url": image.get("url")}
            parts.append({"type": "input_image", "detail": image.get("detail") or "auto", **ref})
        elif kind in ("image_file", "image_url"):  # an assistant's chart: the model sees a mention
            image = part[kind]
            parts.append({"type": "output_text", "text": f"[image {image.get('file_id') or image.get('url')}]", "annotations": [], "logprobs": []})
        elif kind == "refusal":
            parts.append({"type": "refusal", "refusal": part.get("refusal", "")})
    status = body.get("status") or "completed"
    item = {"type": "message", "id": body["id"], "role": role, "content": parts, "status": status}
    extra: dict[str, Any] = {"content": body["content"]}
    for key in ("completed_at", "incomplete_at", "incomplete_details"):
        if body.get(key) is not None:
            extra[key] = body[key]
    fields = {
        "message_id": body["id"],
        "run_id": body.get("run_id"),
        "assistant_id": body.get("assistant_id"),
        "attachments": body.get("attachments") or [],
        "metadata": body.get("metadata") or {},
        "extra": extra,
    }
    return item, fields


def _suffix(call_id: str) -> str:
    return call_id.split("_", 1)[1] if "_" in call_id else call_id


def step_items(step: dict[str, Any]) -> list[dict[str, Any]]:
    """The function_call / function_call_output pairs of a `tool_calls` run step."""
    details = step.get("step_details") or {}
    if details.get("type") != "tool_calls":
        return []
    out: list[dict[str, Any]] = []
    for call in details.get("tool_calls") or []:
        if call.get("type") != "function" or not call.get("id"):
            continue
        fn = call.get("function") or {}
        out.append({"type": "function_call", "id": f"fc_{_suffix(call['id'])}", "call_id": call["id"], "name": fn.get("name", ""), "arguments": fn.get("arguments") or "{}", "status": "completed"})
        output = fn.get("output")
        out.append({"type": "function_call_output", "id": f"fco_{_suffix(call['id'])}", "call_id": call["id"], "output": output if isinstance(output, str) else UNANSWERED, "status": "completed"})
    return out


ACTIVE_RUN = ("queued", "in_progress", "requires_action", "cancelling")


def settled_run(run: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A run as it can live in Onward: one still active at export time can never resume
    (its server is gone), so it is imported `expired`. Returns (run, warning)."""
    if run.get("status") not in ACTIVE_RUN:
        return run, None
    settled = {**run, "status": "expired", "required_action": None}
    return settled, f"run {run['id']} was {run['status']} when exported; imported as expired"
