"""Translate a Responses-style `ModelRequest` into Chat Completions shapes.

Shared by the `chat_completions` provider and the embedded `local` model, which both speak
Chat Completions: items become messages, flat function tools become nested ones, and the flat
`text.format` becomes `response_format`.
"""

from __future__ import annotations

from typing import Any

import orjson

from .base import ModelRequest

_ROLE = {"developer": "system", "system": "system", "user": "user", "assistant": "assistant"}


def _part_text(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
        return str(part.get("text") or "")
    if kind == "refusal":
        return str(part.get("refusal") or "")
    if kind == "input_file":
        return f"[file {part.get('filename') or part.get('file_id') or ''}]"
    if kind == "input_image":
        return "[image]"
    return ""


def _content(content: Any, *, rich: bool) -> Any:
    """A message's content as Chat Completions wants it: a string, or parts when `rich`."""
    if isinstance(content, str):
        return content
    parts = list(content or [])
    if rich and any(p.get("type") == "input_image" for p in parts):
        out: list[dict[str, Any]] = []
        for p in parts:
            if p.get("type") == "input_image" and p.get("image_url"):
                out.append({"type": "image_url", "image_url": {"url": p["image_url"], "detail": p.get("detail") or "auto"}})
            else:
                out.append({"type": "text", "text": _part_text(p)})
        return out
    return "".join(_part_text(p) for p in parts)


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(_part_text(p) for p in output if isinstance(p, dict))
    return orjson.dumps(output).decode()


def to_chat_messages(request: ModelRequest, *, rich: bool = True) -> list[dict[str, Any]]:
    """Items -> messages. Consecutive function calls join one assistant message, as Chat wants."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    for item in request.input:
        kind = item.get("type", "message")
        if kind == "message":
            role = _ROLE.get(item.get("role", "user"), "user")
            messages.append({"role": role, "content": _content(item.get("content"), rich=rich)})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"},
            }
            last = messages[-1] if messages else None
            # Join the assistant turn just before, text included: a second assistant message in
            # a row breaks chat templates that require alternating roles.
            if last and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                # "" rather than null: llama-cpp-python's server (and others) reject a null content.
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": _output_text(item.get("output"))}
            )
    return messages


def to_chat_tools(request: ModelRequest) -> list[dict[str, Any]]:
    tools = []
    for tool in request.tools:
        fn: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("parameters") or {"type": "object", "properties": {}}}
        if tool.get("description"):
            fn["description"] = tool["description"]
        if tool.get("strict") is not None:
            fn["strict"] = tool["strict"]
        tools.append({"type": "function", "function": fn})
    return tools


def to_chat_tool_choice(choice: str | dict[str, Any]) -> Any:
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            return {"type": "function", "function": {"name": choice.get("name")}}
        return "auto"
    return choice


def to_response_format(text_format: dict[str, Any] | None) -> dict[str, Any] | None:
    if not text_format or text_format.get("type") in (None, "text"):
        return None
    if text_format["type"] == "json_object":
        return {"type": "json_object"}
    schema: dict[str, Any] = {"name": text_format.get("name") or "response", "schema": text_format.get("schema") or {}}
    if text_format.get("strict") is not None:
        schema["strict"] = text_format["strict"]
    if text_format.get("description"):
        schema["description"] = text_format["description"]
    return {"type": "json_schema", "json_schema": schema}
