"""`onward migrate convert`: an assistant → the settings `responses.create` takes.

The rules follow the migration guide's concept table: instructions and tools move inline
(prompt objects shut down on 2026-11-30, so inline is the lasting form), function tools are
flat with `strict` stated, `tool_resources.file_search.vector_store_ids` move onto the
file_search tool (to be sent on every request), code interpreter files into an `auto`
container, `response_format` becomes `text.format` (flat json_schema), retired models get
their replacement.
"""

from __future__ import annotations

import json
import pprint
from typing import Any

from .catalog import retired

BEHAVIOUR_NOTES = [
    "Billing is per token of each response; there is no run-level budget (max_prompt_tokens / max_completion_tokens): use max_output_tokens and truncation='auto' or compaction.",
    "Rate limits are per model, not per assistant: assistants that shared a model now share its limits.",
    "Conversations have no tool_resources: send the file_search tool with its vector_store_ids on every request.",
    "truncation defaults to 'disabled' on Responses (a 400 when the history outgrows the window); threads truncated automatically.",
]


def settings(assistant: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(`responses.create` keyword arguments, notes on what changed) for one assistant object
    (v1 or v2 shape)."""
    notes: list[str] = []
    out: dict[str, Any] = {}
    model = str(assistant.get("model") or "")
    gone = retired(model)
    if gone:
        out["model"] = gone.replacement
        notes.append(f"model {model} shuts down {gone.shutdown}; using {gone.replacement} (edit if you prefer another)")
    else:
        out["model"] = model
    if assistant.get("instructions"):
        out["instructions"] = assistant["instructions"]
    resources = assistant.get("tool_resources") or {}
    tools: list[dict[str, Any]] = []
    for tool in assistant.get("tools") or []:
        kind = tool.get("type")
        if kind == "function":
            fn = tool.get("function") or {}
            strict = fn.get("strict")
            tools.append({"type": "function", "name": fn.get("name"), "description": fn.get("description"), "parameters": fn.get("parameters") or {"type": "object", "properties": {}}, "strict": bool(strict)})
            if strict is None:
                notes.append(f"function {fn.get('name')}: strict was unset (false on Assistants); stated explicitly as false, since Responses defaults function tools to strict")
        elif kind in ("file_search", "retrieval"):
            store_ids = list((resources.get("file_search") or {}).get("vector_store_ids") or [])
            entry: dict[str, Any] = {"type": "file_search", "vector_store_ids": store_ids}
            options = tool.get("file_search") or {}
            if options.get("max_num_results"):
                entry["max_num_results"] = options["max_num_results"]
            if options.get("ranking_options"):
                entry["ranking_options"] = options["ranking_options"]
            tools.append(entry)
            if kind == "retrieval":
                notes.append("the v1 retrieval tool became file_search: put its files in a vector store")
            if not store_ids:
                notes.append("file_search has no vector store: the thread's own stores must be passed per request")
        elif kind == "code_interpreter":
            file_ids = list((resources.get("code_interpreter") or {}).get("file_ids") or [])
            tools.append({"type": "code_interpreter", "container": {"type": "auto", "file_ids": file_ids}})
        else:
            notes.append(f"tool type {kind!r} has no Responses counterpart here; left out")
    if assistant.get("file_ids"):
        notes.append(f"v1 file_ids {assistant['file_ids']} are not carried over: attach them to a vector store or a container")
    if tools:
        out["tools"] = tools
    text_format = _text_format(assistant.get("response_format"))
    if text_format:
        out["text"] = {"format": text_format}
    for key in ("temperature", "top_p"):
        if assistant.get(key) is not None:
            out[key] = assistant[key]
    if assistant.get("reasoning_effort"):
        out["reasoning"] = {"effort": assistant["reasoning_effort"]}
    metadata = dict(assistant.get("metadata") or {})
    if metadata:
        out["metadata"] = metadata
    return out, notes


def _text_format(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict) or response_format.get("type") in (None, "text", "auto"):
        return None
    if response_format["type"] == "json_object":
        return {"type": "json_object"}
    schema = response_format.get("json_schema") or {}
    out = {"type": "json_schema", "name": schema.get("name") or "output", "schema": schema.get("schema") or {"type": "object"}}
    if schema.get("strict") is not None:
        out["strict"] = schema["strict"]
    if schema.get("description"):
        out["description"] = schema["description"]
    return out


def convert_all(assistants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`[{"assistant_id", "name", "settings", "notes"}]` for each assistant."""
    out = []
    for assistant in assistants:
        conf, notes = settings(assistant)
        out.append({"assistant_id": assistant.get("id"), "name": assistant.get("name"), "settings": conf, "notes": notes})
    return out


def _ident(name: str | None, fallback: str) -> str:
    base = "".join(ch if ch.isalnum() else "_" for ch in (name or fallback)).strip("_").upper() or "ASSISTANT"
    return base if not base[0].isdigit() else f"A_{base}"


def _names(converted: list[dict[str, Any]]) -> list[str]:
    """One constant name per assistant; assistants sharing a name get their id appended."""
    names = [_ident(e["name"], e["assistant_id"] or "assistant") for e in converted]
    return [
        f"{name}_{_ident(None, e['assistant_id'] or str(i))}" if names.count(name) > 1 else name
        for i, (name, e) in enumerate(zip(names, converted, strict=True))
    ]


def as_python(converted: list[dict[str, Any]]) -> str:
    """A module of settings dicts, one per assistant, ready for `client.responses.create(**X, input=…)`."""
    lines = ['"""Responses settings converted from Assistants by `onward migrate convert`."""', ""]
    for entry, name in zip(converted, _names(converted), strict=True):
        lines.append(f"# {entry['assistant_id']} ({entry['name'] or 'unnamed'})")
        lines += [f"# note: {n}" for n in entry["notes"]]
        lines.append(f"{name} = {pprint.pformat(entry['settings'], indent=1, width=100, sort_dicts=False)}")
        lines.append("")
    lines.append("# usage: client.responses.create(**NAME, conversation=conversation_id, input=user_text)")
    return "\n".join(lines) + "\n"


def as_typescript(converted: list[dict[str, Any]]) -> str:
    """TypeScript constants, one per assistant, typed as the SDK's create params."""
    lines = ["// Responses settings converted from Assistants by `onward migrate convert`.", 'import type { ResponseCreateParamsNonStreaming } from "openai/resources/responses/responses";', ""]
    for entry, name in zip(converted, _names(converted), strict=True):
        lines.append(f"// {entry['assistant_id']} ({entry['name'] or 'unnamed'})")
        lines += [f"// note: {n}" for n in entry["notes"]]
        lines.append(f"export const {name}: ResponseCreateParamsNonStreaming = {json.dumps(entry['settings'], indent=2, ensure_ascii=False)};")
        lines.append("")
    lines.append("// usage: await client.responses.create({ ...NAME, conversation: conversationId, input: userText })")
    return "\n".join(lines) + "\n"
