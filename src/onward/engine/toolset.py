"""The tools a model sees, derived from the tools a client sent.

Every provider speaks plain functions, so the richer Responses tool kinds are flattened here and
restored on the way out (`ResponseBuilder` maps the model's calls back):

* `namespace` tools: each function/custom tool inside is offered as `<namespace>__<name>`; the
  model's call comes back as a `function_call` (or `custom_tool_call`) carrying `namespace` and
  the plain `name`, as on OpenAI.
* `custom` tools (free-form input): offered as a function with one string argument, `input`;
  the call comes back as a `custom_tool_call` whose `input` is that string.
* hosted tools Onward cannot run (web_search, image_generation, computer use, mcp, shell, …)
  stay in the response's `tools` but are left out of what the model sees; each kind is logged
  once per process.

History is flattened the same way (`model_items`), so a replayed `custom_tool_call` or a
namespaced `function_call` reads to the model exactly as the call it made.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import orjson

log = logging.getLogger("onward.tools")

# Tool types of the SDK's `ToolParam` that Onward accepts but does not run (see docs/guide.md).
NOT_RUN = frozenset({
    "web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11",
    "computer", "computer_use_preview", "image_generation", "mcp",
    "local_shell", "shell", "apply_patch", "tool_search", "programmatic_tool_calling",
})
SEPARATOR = "__"
_logged: set[str] = set()


def flat_name(namespace: str | None, name: str) -> str:
    """The name the model sees for `name` inside `namespace` (Chat Completions allows
    `[a-zA-Z0-9_-]`, so no dot)."""
    return f"{namespace}{SEPARATOR}{name}" if namespace else name


@dataclass(frozen=True)
class Target:
    """What a model-visible function name stands for."""

    kind: str  # "function" | "custom"
    name: str  # the plain name the client declared
    namespace: str | None = None


def _custom_function(tool: dict[str, Any], name: str) -> dict[str, Any]:
    hint = ""
    fmt = tool.get("format") or {}
    if fmt.get("type") == "grammar":
        hint = f"\nThe input must match this {fmt.get('syntax')} grammar:\n{fmt.get('definition')}"
    return {
        "type": "function",
        "name": name,
        "description": ((tool.get("description") or "") + hint).strip() or None,
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The tool's free-form input."}},
            "required": ["input"],
            "additionalProperties": False,
        },
        "strict": True,
    }


def _entries(tools: list[dict[str, Any]]):
    for tool in tools:
        if tool.get("type") == "namespace":
            for inner in tool.get("tools") or []:
                yield tool["name"], inner
        elif tool.get("type") in ("function", "custom"):
            yield None, tool


def model_functions(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalized client tools (context.normalize_tools) as the flat function tools providers
    take. file_search is not among them (the service offers it); tools Onward cannot run are
    left out and logged once per kind."""
    out = []
    for tool in tools:
        kind = tool.get("type")
        if kind in NOT_RUN and kind not in _logged:
            _logged.add(kind)
            log.warning("tool type %r is accepted but not run by Onward; the model does not see it", kind)
    for namespace, tool in _entries(tools):
        name = flat_name(namespace, tool["name"])
        if tool["type"] == "custom":
            out.append(_custom_function(tool, name))
        else:
            out.append({"type": "function", "name": name, "description": tool.get("description"), "parameters": tool.get("parameters"), "strict": tool.get("strict", True)})
    return out


def targets(tools: list[dict[str, Any]] | None) -> dict[str, Target]:
    """Model-visible name -> what it stands for, for every function and custom tool."""
    return {flat_name(ns, t["name"]): Target(t["type"], t["name"], ns) for ns, t in _entries(tools or [])}


def model_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Custom tool calls/outputs and namespaced calls as the plain function items models read."""
    out = []
    for item in items:
        kind = item.get("type")
        if kind == "custom_tool_call":
            args = orjson.dumps({"input": item.get("input", "")}).decode()
            out.append({"type": "function_call", "call_id": item.get("call_id"), "name": flat_name(item.get("namespace"), item.get("name", "")), "arguments": args})
        elif kind == "custom_tool_call_output":
            out.append({"type": "function_call_output", "call_id": item.get("call_id"), "output": item.get("output")})
        elif kind == "function_call" and item.get("namespace"):
            out.append(dict(item, name=flat_name(item["namespace"], item.get("name", ""))))
        else:
            out.append(item)
    return out


def custom_input(arguments: str) -> str:
    """The free-form input of a custom tool call from the JSON arguments the model wrote."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return value["input"]
    return arguments


_OPEN_INPUT = re.compile(r'\s*\{\s*"input"\s*:\s*"')


def partial_input(arguments: str) -> str:
    """The part of a custom tool call's input readable from the start of its JSON arguments
    (`{"input": "...`), for streaming `response.custom_tool_call_input.delta` events. A
    half-received escape or surrogate pair waits for the next fragment."""
    opened = _OPEN_INPUT.match(arguments)
    if not opened:
        return ""
    raw = arguments[opened.end():]
    i = end = 0
    while i < len(raw):
        if raw[i] == '"':
            break
        step = (6 if raw[i + 1 : i + 2] == "u" else 2) if raw[i] == "\\" else 1
        if i + step > len(raw):
            break
        i = end = i + step
    try:
        text = json.loads('"' + raw[:end] + '"', strict=False)
    except ValueError:
        return ""
    if text and "\ud800" <= text[-1] <= "\udbff":
        text = text[:-1]
    return text
