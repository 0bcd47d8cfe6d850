"""Translations between Assistants objects and the engine's items, tools and settings."""

from __future__ import annotations

from typing import Any

from ..errors import invalid
from ..ids import new_id
from .store import MessageRow

DEFAULT_TRUNCATION = {"type": "auto", "last_messages": None}


# -- messages: Assistants content <-> Responses items ---------------------------------------
def content_to_parts(content: str | list[dict[str, Any]], role: str, param: str = "content") -> list[dict[str, Any]]:
    def text(value: str) -> dict[str, Any]:
        if role == "assistant":
            return {"type": "output_text", "text": value, "annotations": [], "logprobs": []}
        return {"type": "input_text", "text": value}

    if isinstance(content, str):
        return [text(content)]
    if not content:
        raise invalid(f"'{param}' must hold at least one content part.", param, "empty_array")
    parts = []
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        kind = part.get("type")
        for key in ("image_file", "image_url"):
            image = part.get(key)
            detail = image.get("detail") if isinstance(image, dict) else None
            if detail is not None and detail not in ("auto", "low", "high"):
                raise invalid(f"Invalid value for '{where}.{key}.detail': {detail!r}. Supported values are: 'auto', 'low' and 'high'.", f"{where}.{key}.detail")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise invalid(f"Missing required parameter: '{where}.text'.", f"{where}.text", "missing_required_parameter")
            parts.append(text(part["text"]))
        elif kind == "image_file":
            img = part.get("image_file")
            if not isinstance(img, dict) or not isinstance(img.get("file_id"), str):
                raise invalid(f"Missing required parameter: '{where}.image_file.file_id'.", f"{where}.image_file.file_id", "missing_required_parameter")
            parts.append({"type": "input_image", "file_id": img["file_id"], "detail": img.get("detail") or "auto"})
        elif kind == "image_url":
            img = part.get("image_url")
            if not isinstance(img, dict) or not isinstance(img.get("url"), str):
                raise invalid(f"Missing required parameter: '{where}.image_url.url'.", f"{where}.image_url.url", "missing_required_parameter")
            parts.append({"type": "input_image", "image_url": img["url"], "detail": img.get("detail") or "auto"})
        else:
            raise invalid(f"Invalid value for '{where}.type': {kind!r}. Supported values are: 'text', 'image_file' and 'image_url'.", f"{where}.type")
    return parts


def message_item(role: str, content: str | list[dict[str, Any]], param: str = "content") -> dict[str, Any]:
    return {"type": "message", "id": new_id("msg"), "role": role, "content": content_to_parts(content, role, param), "status": "completed"}


def citation_marker(n: int, filename: str | None) -> str:
    return f"【4:{n}†{filename or 'source'}】"


def _text_block(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """Responses citations carry an index; Assistants ones a marker inside the text, spanned."""
    out: list[dict[str, Any]] = []
    cites = sorted((a for a in annotations if a.get("type") == "file_citation" and "index" in a), key=lambda a: a["index"])
    if cites:
        pieces: list[str] = []
        cursor = 0
        length = 0
        for n, cite in enumerate(cites):
            at = max(cursor, min(int(cite["index"]), len(text)))
            pieces.append(text[cursor:at])
            length += at - cursor
            marker = citation_marker(n, cite.get("filename"))
            out.append({"type": "file_citation", "text": marker, "start_index": length, "end_index": length + len(marker), "file_citation": {"file_id": cite.get("file_id")}})
            pieces.append(marker)
            length += len(marker)
            cursor = at
        pieces.append(text[cursor:])
        text = "".join(pieces)
    for a in annotations:  # already in the Assistants form (imported threads)
        if a.get("type") in ("file_citation", "file_path") and "start_index" in a and "text" in a:
            out.append(a)
    for a in annotations:  # files the code interpreter wrote: spans of the text (shifted past any markers)
        if a.get("type") == "container_file_citation" and a.get("end_index", 0) > a.get("start_index", 0) and not _is_image(a.get("filename")):
            shift = sum(len(citation_marker(n, c.get("filename"))) for n, c in enumerate(cites) if int(c["index"]) <= a["start_index"])
            start, end = a["start_index"] + shift, a["end_index"] + shift
            out.append({"type": "file_path", "text": text[start:end], "start_index": start, "end_index": end, "file_path": {"file_id": a.get("file_id")}})
    return {"type": "text", "text": {"value": text, "annotations": out}}


def _is_image(name: str | None) -> bool:
    return bool(name) and str(name).lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".webp"))


def image_files(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The code interpreter's images cited in a Responses message, as Assistants image_file parts."""
    return [
        {"type": "image_file", "image_file": {"file_id": a["file_id"], "detail": "auto"}}
        for a in annotations
        if a.get("type") == "container_file_citation" and _is_image(a.get("filename")) and str(a.get("file_id", "")).startswith("file-")
    ]


def parts_to_content(parts: list[dict[str, Any]] | str) -> list[dict[str, Any]]:
    if isinstance(parts, str):
        return [_text_block(parts, [])]
    out = []
    for part in parts:
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            out += image_files(part.get("annotations") or [])
            out.append(_text_block(part.get("text", ""), part.get("annotations") or []))
        elif kind == "refusal":
            out.append({"type": "refusal", "refusal": part.get("refusal", "")})
        elif kind == "input_image" and part.get("file_id"):
            out.append({"type": "image_file", "image_file": {"file_id": part["file_id"], "detail": part.get("detail") or "auto"}})
        elif kind == "input_image" and part.get("image_url"):
            out.append({"type": "image_url", "image_url": {"url": part["image_url"], "detail": part.get("detail") or "auto"}})
    return out


def message_object(thread_id: str, row: MessageRow) -> dict[str, Any]:
    item = row.item
    status = item.get("status") or "completed"
    status = status if status in ("in_progress", "incomplete", "completed") else "completed"
    assistant = item.get("role") == "assistant"
    return {
        "id": item["id"],
        "object": "thread.message",
        "created_at": row.created_at,
        "assistant_id": row.assistant_id,
        "thread_id": thread_id,
        "run_id": row.run_id,
        "role": item.get("role"),
        # imported threads keep the exported Assistants content verbatim (citation markers)
        "content": row.extra.get("content") or parts_to_content(item.get("content") or []),
        "attachments": row.attachments,
        "metadata": row.metadata,
        "status": status,
        "incomplete_details": row.extra.get("incomplete_details") if status == "incomplete" else None,
        "completed_at": row.extra.get("completed_at", row.created_at if assistant else None) if status == "completed" else None,
        "incomplete_at": row.extra.get("incomplete_at", row.created_at) if status == "incomplete" else None,
    }


# -- settings: Assistants -> engine -------------------------------------------------------------
def engine_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Function tools flat, as the Responses engine takes them; hosted tools are handled apart."""
    out = []
    for tool in tools:
        if tool.get("type") == "function":
            fn = tool["function"]
            out.append({"type": "function", "name": fn["name"], "description": fn.get("description"), "parameters": fn.get("parameters"), "strict": bool(fn.get("strict"))})
    return out


def engine_tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "name": choice["function"]["name"]}
    if isinstance(choice, dict) and choice.get("type") in ("file_search", "code_interpreter"):
        return {"type": choice["type"]}
    if isinstance(choice, dict):
        return "required"
    return choice or "auto"


def engine_text_format(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict):
        return None
    if response_format["type"] == "json_schema":
        js = response_format["json_schema"]
        return {"type": "json_schema", "name": js["name"], "schema": js.get("schema") or {"type": "object"}, "strict": js.get("strict"), "description": js.get("description")}
    return {"type": response_format["type"]}


# -- run steps ----------------------------------------------------------------------------------
def step_object(run: dict[str, Any], kind: str, details: dict[str, Any], created_at: int) -> dict[str, Any]:
    return {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": created_at,
        "run_id": run["id"],
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "type": kind,
        "status": "in_progress",
        "cancelled_at": None,
        "completed_at": None,
        "expired_at": None,
        "failed_at": None,
        "last_error": None,
        "step_details": details,
        "usage": None,
        "metadata": {},
    }


def file_search_results(results: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        {"file_id": r.get("file_id"), "file_name": r.get("filename"), "score": r.get("score") or 0.0, "content": [{"type": "text", "text": r.get("text") or ""}]}
        for r in results or []
    ]


def run_usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
