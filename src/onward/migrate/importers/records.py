"""Exported Assistants data, whatever shape a team's script wrote it in, as plain records.

Accepted message rows (JSON Lines, CSV, or objects inside JSON files) take flexible keys:
`thread_id` (or `thread`, `conversation_id`), `message_id` (or `id`), `role`, `text` (or
`content`: a string, the Assistants API's content parts, or Responses parts), `created_at`
(Unix seconds or milliseconds, or ISO 8601), and optionally `assistant_id`, `run_id`,
`metadata`, `attachments`, `status`. Whole API objects (`"object": "thread.message"`,
`"assistant"`, `"thread"`, `"thread.run"`, `"thread.run.step"`, v1 or v2) keep every field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

KINDS = ("assistant", "thread", "message", "run", "step")
OBJECT_KINDS = {"assistant": "assistant", "thread": "thread", "thread.message": "message", "thread.run": "run", "thread.run.step": "step"}
ROLE_SYNONYMS = {"user": "user", "human": "user", "customer": "user", "assistant": "assistant", "ai": "assistant", "bot": "assistant", "agent": "assistant", "model": "assistant"}


class BadRecord(ValueError):
    """A line or object that cannot be imported; the message says why."""


@dataclass
class Record:
    kind: str  # assistant | thread | message | run | step
    id: str
    thread_id: str | None
    created_at: int
    body: dict[str, Any]  # the object in the Assistants API v2 shape
    where: str = ""  # FILE:LINE it came from
    order: int = 0  # position in the source, the tie-breaker after created_at
    warnings: list[str] = field(default_factory=list)


def parse_time(value: Any, name: str = "created_at") -> int:
    """Unix seconds from seconds, milliseconds, a numeric string or ISO 8601 (no zone = UTC)."""
    if value is None or value == "":
        raise BadRecord(f"missing {name}")
    if isinstance(value, bool):
        raise BadRecord(f"{name} must be a time, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
            except ValueError as exc:
                raise BadRecord(f"{name} {value!r} is neither Unix seconds nor ISO 8601") from exc
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return int(parsed.timestamp())
    else:
        raise BadRecord(f"{name} must be a number or a string, not {type(value).__name__}")
    if seconds > 1e11:  # milliseconds (1e11 s is the year 5138)
        seconds /= 1000.0
    if seconds < 0:
        raise BadRecord(f"{name} {value!r} is before 1970")
    return int(seconds)


def _json_field(value: Any, name: str, kind: type) -> Any:
    """CSV cells hold JSON as text; objects elsewhere hold it as is."""
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if not text:
            return kind()
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRecord(f"{name} is not valid JSON ({exc.msg})") from exc
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise BadRecord(f"{name} must be a {kind.__name__}")
    return value


def text_part(value: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": annotations or []}}


def assistants_content(value: Any) -> list[dict[str, Any]]:
    """Content in the Assistants v2 shape (text / image_file / image_url parts), from a string,
    Assistants parts (v1 or v2), or Responses parts."""
    if isinstance(value, str):
        return [text_part(value)]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise BadRecord("content must be a string or a non-empty list of content parts")
    parts: list[dict[str, Any]] = []
    for part in value:
        if isinstance(part, str):
            parts.append(text_part(part))
            continue
        if not isinstance(part, dict):
            raise BadRecord("content parts must be objects")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if isinstance(text, dict):
                parts.append(text_part(str(text.get("value", "")), list(text.get("annotations") or [])))
            elif isinstance(text, str):
                parts.append(text_part(text))
            else:
                raise BadRecord("a text part needs text")
        elif kind in ("input_text", "output_text"):
            parts.append(text_part(str(part.get("text", ""))))
        elif kind in ("image_file", "image_url", "refusal"):
            parts.append(part)
        elif kind == "input_image":
            if part.get("file_id"):
                parts.append({"type": "image_file", "image_file": {"file_id": part["file_id"], "detail": part.get("detail") or "auto"}})
            elif part.get("image_url"):
                parts.append({"type": "image_url", "image_url": {"url": part["image_url"], "detail": part.get("detail") or "auto"}})
        else:
            raise BadRecord(f"unknown content part type {kind!r}")
    return parts


def _first(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in row and row[name] not in (None, ""):
            return row[name]
    return None


def message_from_row(row: dict[str, Any], where: str, default_thread: str | None = None) -> Record:
    """A message record from an API message object (v1 or v2) or an app's own row."""
    thread_id = _first(row, "thread_id", "thread", "conversation_id") or default_thread
    if not isinstance(thread_id, str) or not thread_id.strip():
        raise BadRecord("no thread_id (also accepted: thread, conversation_id)")
    thread_id = thread_id.strip()
    role = ROLE_SYNONYMS.get(str(_first(row, "role", "sender", "author") or "").strip().lower())
    if role is None:
        raise BadRecord(f"role must be user or assistant, not {_first(row, 'role', 'sender', 'author')!r}")
    raw = _first(row, "content", "text", "message", "body")
    if raw is None:
        raise BadRecord("no text (also accepted: content, message, body)")
    if isinstance(raw, str) and raw.lstrip().startswith("[") and "type" in raw:
        try:  # CSV cells may hold the API's content parts as JSON
            raw = json.loads(raw)
        except json.JSONDecodeError:
            pass
    content = assistants_content(raw)
    created_at = parse_time(_first(row, "created_at", "timestamp", "time", "date"))
    message_id = _first(row, "message_id", "id", "msg_id")
    if message_id is None:  # stable across re-runs, so importing twice adds nothing twice
        digest = hashlib.sha256(f"{thread_id}\x00{created_at}\x00{role}\x00{json.dumps(content, sort_keys=True)}".encode()).hexdigest()[:24]
        message_id = f"msg_{digest}"
    attachments = _json_field(row.get("attachments"), "attachments", list)
    file_ids = _json_field(row.get("file_ids"), "file_ids", list)  # Assistants v1
    if file_ids and not attachments:
        attachments = [{"file_id": f, "tools": [{"type": "file_search"}]} for f in file_ids]
    status = row.get("status") if row.get("status") in ("completed", "incomplete", "in_progress") else "completed"
    body = {
        "id": str(message_id),
        "object": "thread.message",
        "created_at": created_at,
        "thread_id": thread_id,
        "role": role,
        "content": content,
        "assistant_id": _first(row, "assistant_id"),
        "run_id": _first(row, "run_id"),
        "attachments": attachments,
        "metadata": _json_field(row.get("metadata"), "metadata", dict),
        "status": "completed" if status == "in_progress" else status,
        "incomplete_details": row.get("incomplete_details"),
        "completed_at": row.get("completed_at"),
        "incomplete_at": row.get("incomplete_at"),
    }
    return Record("message", body["id"], thread_id, created_at, body, where)


def record_from_object(obj: dict[str, Any], where: str, default_thread: str | None = None) -> Record:
    """A record from anything a line or a list entry may hold."""
    if not isinstance(obj, dict):
        raise BadRecord(f"expected an object, got {type(obj).__name__}")
    kind = OBJECT_KINDS.get(str(obj.get("object", "")))
    if kind is None or kind == "message":
        return message_from_row(obj, where, default_thread)
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise BadRecord(f"{obj.get('object')} object without an id")
    # a thread from an app's own dump may carry no time: its first message gives it
    created_at = 0 if kind == "thread" and obj.get("created_at") in (None, "") else parse_time(obj.get("created_at"))
    body = dict(obj)
    warnings: list[str] = []
    if kind == "assistant":
        body, warnings = _assistant_v2(body)
    thread_id = body.get("thread_id") if kind in ("run", "step") else body["id"] if kind == "thread" else None
    if kind in ("run", "step") and not thread_id:
        raise BadRecord(f"{obj.get('object')} {obj['id']} has no thread_id")
    return Record(kind, body["id"], thread_id, created_at, body, where, warnings=warnings)


def _assistant_v2(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Assistants v1 objects (retrieval tool, file_ids) in the v2 shape."""
    warnings = []
    tools = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "retrieval":
            tools.append({"type": "file_search"})
            warnings.append(f"{body['id']}: the v1 'retrieval' tool became file_search")
        else:
            tools.append(tool)
    body["tools"] = tools
    file_ids = body.pop("file_ids", None)
    if file_ids:
        warnings.append(f"{body['id']}: v1 file_ids {file_ids} need a vector store (file_search) or container files (code_interpreter)")
        body.setdefault("metadata", {})
    body.setdefault("tool_resources", {})
    body.setdefault("metadata", {})
    body.setdefault("response_format", "auto")
    body.setdefault("temperature", 1.0)
    body.setdefault("top_p", 1.0)
    body.setdefault("description", None)
    body.setdefault("name", None)
    body.setdefault("instructions", None)
    return body, warnings
