"""The embedded model's prompt: a request as SmolLM2's ChatML, with tools in the Hermes format.

The SmolLM2 family knows tool calls as `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`
blocks; the template has no tool role, so results are shown as user turns.
"""

from __future__ import annotations

import json
from typing import Any

from .base import ModelRequest
from .chat_format import to_chat_messages

# SmolLM2's chat template adds this system prompt when the conversation has none.
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

TOOL_OPEN = "<tool_call>"
TOOL_CLOSE = "</tool_call>"

# --------------------------------------------------------------------------- prompt rendering

Segment = tuple[str, bool]  # (text, is template markup whose special tokens must be parsed)


def function_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [t for t in request.tools if t.get("type", "function") == "function" and t.get("name")]


def _call_block(name: str, arguments: str) -> str:
    try:  # history arguments are a JSON string; show them compactly when they parse
        args = json.dumps(json.loads(arguments), ensure_ascii=False)
    except (TypeError, ValueError):
        args = arguments
    return f'{TOOL_OPEN}\n{{"name": {json.dumps(name)}, "arguments": {args}}}\n{TOOL_CLOSE}'


def _tools_prompt(tools: list[dict[str, Any]]) -> str:
    """The Hermes tool prompt, trimmed: every prompt token costs ~10 ms on a CPU core."""
    signatures = "\n".join(
        json.dumps(
            {
                "name": t["name"],
                "description": t.get("description") or "",
                "parameters": t.get("parameters") or {"type": "object", "properties": {}},
            },
            ensure_ascii=False,
        )
        for t in tools
    )
    return (
        "# Tools\n\nYou may call a function to assist with the user query. "
        f"Function signatures:\n<tools>\n{signatures}\n</tools>\n\n"
        f'To call a function, reply with:\n{TOOL_OPEN}\n{{"name": <function-name>, "arguments": <args-json-object>}}\n{TOOL_CLOSE}'
    )


def _format_prompt(text_format: dict[str, Any] | None) -> str:
    kind = (text_format or {}).get("type")
    if kind == "json_object":
        return "Respond with a JSON object only."
    if kind == "json_schema":
        schema = json.dumps((text_format or {}).get("schema") or {}, ensure_ascii=False)
        return f"Respond with a JSON object only, matching this JSON schema:\n{schema}"
    return ""


def _turn(role: str, content: str) -> list[Segment]:
    return [(f"<|im_start|>{role}\n", True), (content, False), ("<|im_end|>\n", True)]


def render_prompt(request: ModelRequest, *, describe_tools: bool) -> list[Segment]:
    """The request as SmolLM2's ChatML prompt, ending where the assistant starts to answer.

    The template has no tool role: calls are shown in the assistant's turn as `<tool_call>`
    blocks, and their results as a user turn "Tool result (name): ...".
    """
    messages = to_chat_messages(request, rich=False)
    lead = 0
    while lead < len(messages) and messages[lead]["role"] == "system":
        lead += 1
    system = "\n\n".join(str(m["content"] or "") for m in messages[:lead]) or DEFAULT_SYSTEM
    tools = function_tools(request)
    extras = [_tools_prompt(tools) if describe_tools and tools else "", _format_prompt(request.text_format)]
    system = "\n\n".join([system, *(e for e in extras if e)])

    segments = _turn("system", system)
    names: dict[Any, str] = {}  # call_id -> tool name, to label results
    results: list[str] = []  # consecutive tool results share one user turn
    for message in messages[lead:]:
        if message["role"] == "tool":
            label = names.get(message.get("tool_call_id"), "tool")
            results.append(f"Tool result ({label}): {message['content']}")
            continue
        if results:
            segments += _turn("user", "\n".join(results))
            results = []
        content = str(message.get("content") or "")
        calls = message.get("tool_calls") or []
        for call in calls:
            names[call.get("id")] = call["function"]["name"]
        blocks = [_call_block(c["function"]["name"], c["function"]["arguments"]) for c in calls]
        segments += _turn(message["role"], "\n".join([content, *blocks]) if content else "\n".join(blocks))
    if results:
        segments += _turn("user", "\n".join(results))
    return [*segments, ("<|im_start|>assistant\n", True)]
