"""What the model sees: input normalisation, history, tool checks, truncation, compaction."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from ..errors import APIError, invalid, reject_unknown
from ..ids import new_id
from ..providers.base import ModelRequest, Provider
from ..tools import file_search
from ..tools.code_interpreter import tool as code_tool
from . import toolset
from .items import CustomTool, FunctionTool, check, check_item, check_unique_ids

_ROLES = ("user", "assistant", "system", "developer")
_INPUT_PARTS = ("input_text", "input_image", "input_file", "input_audio")
_OUTPUT_PARTS = ("output_text", "refusal")
_ITEM_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "compaction": "cmp",
    "file_search_call": "fs",
    "code_interpreter_call": "ci",
    "web_search_call": "ws",
}
COMPACTION_PREFIX = "onward.v1."


def _text_part(role: str, text: str) -> dict[str, Any]:
    if role == "assistant":
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "input_text", "text": text}


def _normalize_message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in _ROLES:
        raise invalid(f"Invalid value for '{where}.role': {role!r}. Supported values are: {', '.join(_ROLES)}.", f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        parts = [_text_part(role, content)]
    elif isinstance(content, list):
        parts = []
        allowed = _OUTPUT_PARTS + _INPUT_PARTS if role == "assistant" else _INPUT_PARTS
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") not in allowed:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise invalid(
                    f"Invalid content part type {kind!r} for role {role!r} in '{where}.content[{j}]'. Supported: {', '.join(allowed)}.",
                    f"{where}.content[{j}].type",
                )
            if part["type"] in ("input_text", "output_text") and not isinstance(part.get("text"), str):
                raise invalid(f"Missing required parameter: '{where}.content[{j}].text'.", f"{where}.content[{j}].text", "missing_required_parameter")
            part = dict(part)
            if part["type"] == "output_text":
                part.setdefault("annotations", [])
                part.setdefault("logprobs", [])
            if part["type"] == "input_image":
                part.setdefault("detail", "auto")
            parts.append(part)
    else:
        raise invalid(f"Missing required parameter: '{where}.content'.", f"{where}.content", "missing_required_parameter")
    out = {"type": "message", "id": item.get("id") or new_id("msg"), "role": role, "content": parts, "status": item.get("status") or "completed"}
    if item.get("phase") is not None:
        out["phase"] = item["phase"]
    return out


def _tool_call(raw: dict[str, Any], where: str, kind: str, payload: str, prefix: str) -> dict[str, Any]:
    """A function_call (`arguments`) or custom_tool_call (`input`) item as given back as input."""
    for key in ("call_id", "name", payload):
        if not isinstance(raw.get(key), str):
            raise invalid(f"Missing required parameter: '{where}.{key}'.", f"{where}.{key}", "missing_required_parameter")
    call = {"type": kind, "id": raw.get("id") or new_id(prefix), "call_id": raw["call_id"], "name": raw["name"], payload: raw[payload], "status": raw.get("status") or "completed"}
    if isinstance(raw.get("namespace"), str):
        call["namespace"] = raw["namespace"]
    return call


def normalize_input(value: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The request's `input` as stored items, each with an id, content as parts. Every item
    is type-checked (`items.check_item`) and ids are unique within the request (400 naming
    `input[i]...` otherwise)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [_normalize_message({"role": "user", "content": value}, "input")]
    items: list[dict[str, Any]] = []
    for i, raw in enumerate(value):
        where = f"input[{i}]"
        kind = check_item(raw, where)
        if kind == "message":
            items.append(_normalize_message(raw, where))
        elif kind == "function_call":
            items.append(_tool_call(raw, where, "function_call", "arguments", "fc"))
        elif kind == "custom_tool_call":
            items.append(_tool_call(raw, where, "custom_tool_call", "input", "ctc"))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            if not isinstance(raw.get("call_id"), str):
                raise invalid(f"Missing required parameter: '{where}.call_id'.", f"{where}.call_id", "missing_required_parameter")
            if not isinstance(raw.get("output"), (str, list)):
                raise invalid(f"Missing required parameter: '{where}.output'.", f"{where}.output", "missing_required_parameter")
            output = {"type": kind, "id": raw.get("id") or new_id("fco" if kind == "function_call_output" else "ctco"), "call_id": raw["call_id"], "output": raw["output"]}
            if kind == "function_call_output":
                output["status"] = raw.get("status") or "completed"
            items.append(output)
        elif kind == "compaction":
            if not isinstance(raw.get("encrypted_content"), str):
                raise invalid(f"Missing required parameter: '{where}.encrypted_content'.", f"{where}.encrypted_content", "missing_required_parameter")
            decode_compaction(raw["encrypted_content"], f"{where}.encrypted_content")
            items.append({"type": "compaction", "id": raw.get("id") or new_id("cmp"), "encrypted_content": raw["encrypted_content"]})
        elif kind in _ITEM_PREFIX:  # other output items echoed back (reasoning, tool calls)
            item = dict(raw)
            item.setdefault("id", new_id(_ITEM_PREFIX[kind]))
            items.append(item)
        elif kind == "item_reference":  # resolved against stored items by the caller (resolve_references)
            if not isinstance(raw.get("id"), str) or not raw["id"]:
                raise invalid(f"Missing required parameter: '{where}.id'.", f"{where}.id", "missing_required_parameter")
            items.append({"type": "item_reference", "id": raw["id"]})
        else:
            raise invalid(f"Invalid value for '{where}.type': {kind!r}.", f"{where}.type")
    check_unique_ids([item for item in items if item["type"] != "item_reference"])  # a reference may repeat
    return items


def _function_tool(tool: dict[str, Any], where: str) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(f"Missing required parameter: '{where}.name'.", f"{where}.name", "missing_required_parameter")
    check(FunctionTool, tool, where)
    params = tool.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise invalid(f"Invalid type for '{where}.parameters': expected an object.", f"{where}.parameters", "invalid_type")
    reject_unknown(tool, {"type", "name", "description", "parameters", "strict", "defer_loading", "output_schema", "allowed_callers"}, where)
    return {"type": "function", "name": name, "description": tool.get("description"), "parameters": params, "strict": tool.get("strict", True)}


def _custom_tool(tool: dict[str, Any], where: str) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(f"Missing required parameter: '{where}.name'.", f"{where}.name", "missing_required_parameter")
    check(CustomTool, tool, where)
    reject_unknown(tool, {"type", "name", "description", "format", "defer_loading", "allowed_callers", "async"}, where)
    if tool.get("description") is not None and not isinstance(tool["description"], str):
        raise invalid(f"Invalid type for '{where}.description': expected a string.", f"{where}.description", "invalid_type")
    fmt = tool.get("format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", "grammar")):
        raise invalid(f"Invalid value for '{where}.format': use {{'type': 'text'}} or {{'type': 'grammar', 'syntax', 'definition'}}.", f"{where}.format")
    if fmt and fmt["type"] == "grammar" and not (isinstance(fmt.get("definition"), str) and fmt.get("syntax") in ("lark", "regex")):
        raise invalid(f"'{where}.format' of type 'grammar' needs 'syntax' ('lark' or 'regex') and a 'definition'.", f"{where}.format")
    out = {"type": "custom", "name": name, "description": tool.get("description"), "format": fmt or {"type": "text"}}
    return out


def _namespace_tool(tool: dict[str, Any], where: str) -> dict[str, Any]:
    reject_unknown(tool, {"type", "name", "description", "tools"}, where)
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(f"Missing required parameter: '{where}.name'.", f"{where}.name", "missing_required_parameter")
    if not isinstance(tool.get("description", ""), str):
        raise invalid(f"Invalid type for '{where}.description': expected a string.", f"{where}.description", "invalid_type")
    inner = tool.get("tools")
    if not isinstance(inner, list) or not inner:
        raise invalid(f"'{where}.tools' must be a non-empty array of function or custom tools.", f"{where}.tools", "invalid_type")
    tools = []
    for j, sub in enumerate(inner):
        at = f"{where}.tools[{j}]"
        kind = sub.get("type") if isinstance(sub, dict) else None
        if kind == "function":
            tools.append(_function_tool(sub, at))
        elif kind == "custom":
            tools.append(_custom_tool(sub, at))
        else:
            raise invalid(f"Invalid value for '{at}.type': {kind!r}. A namespace holds function and custom tools.", f"{at}.type")
    return {"type": "namespace", "name": name, "description": tool.get("description") or "", "tools": tools}


def normalize_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Tools echoed as the spec shows them (function: description/parameters/strict present).

    function, custom, namespace and file_search run; the other hosted kinds of the SDK's
    `ToolParam` (toolset.NOT_RUN) are echoed as sent and not shown to the model.
    """
    out: list[dict[str, Any]] = []
    seen = set()
    for i, tool in enumerate(tools or []):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise invalid(f"Invalid type for '{where}': expected an object.", where, "invalid_type")
        if not isinstance(tool.get("type"), str):
            raise invalid(f"Invalid type for '{where}.type': expected a string.", f"{where}.type", "invalid_type")
        kind = tool.get("type")
        if kind == "file_search":
            if any(t["type"] == "file_search" for t in out):
                raise invalid(f"Only one file_search tool is allowed ('{where}').", where)
            out.append(file_search.normalize(tool, where))
            continue
        if kind == code_tool.NAME:
            if any(t["type"] == code_tool.NAME for t in out):
                raise invalid(f"Only one code_interpreter tool is allowed ('{where}').", where)
            out.append(code_tool.normalize(tool, where))
            continue
        if kind in toolset.NOT_RUN:
            out.append(dict(tool))
            continue
        if kind == "function":
            entry = _function_tool(tool, where)
        elif kind == "custom":
            entry = _custom_tool(tool, where)
        elif kind == "namespace":
            entry = _namespace_tool(tool, where)
        else:
            raise invalid(f"Invalid value for '{where}.type': {kind!r}. Supported: function, custom, namespace, file_search and the hosted tool types (see the docs for which run).", f"{where}.type", "unsupported_value")
        names = [toolset.flat_name(entry["name"], t["name"]) for t in entry["tools"]] if kind == "namespace" else [entry["name"]]
        for name in names:
            if name in seen:
                raise invalid(f"Duplicate tool name {name!r} at '{where}'.", f"{where}.name")
            seen.add(name)
        out.append(entry)
    return out


def check_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> Any:
    """`tool_choice` checked against the request's normalized `tools`, in the shape echoed back.

    A choice naming a tool that is not in `tools`, or `required` with no tools, is a 400 naming
    the field. Forcing only hosted tools Onward does not run (toolset.NOT_RUN) is accepted and
    leaves the model at `auto` (see prepared.build_prepared), like every other use of those tools. `allowed_tools` returns {"type": "allowed_tools", "mode", "tools"}
    with each listed entry as sent (see `allowed_tools`).
    """
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return _check_allowed_tools(choice, tools)
    if isinstance(choice, dict) and choice.get("type") == "file_search":
        if not any(t["type"] == "file_search" for t in tools):
            raise invalid("tool_choice names file_search, which is not in 'tools'.", "tool_choice")
        return {"type": "file_search"}
    if isinstance(choice, dict) and choice.get("type") == code_tool.NAME:
        if not any(t["type"] == code_tool.NAME for t in tools):
            raise invalid("tool_choice names code_interpreter, which is not in 'tools'.", "tool_choice")
        return {"type": code_tool.NAME}
    if isinstance(choice, dict) and choice.get("type") == "function":
        if choice["name"] not in {t.get("name") for t in tools}:
            raise invalid(f"Tool choice names function {choice['name']!r}, which is not in 'tools'.", "tool_choice.name")
        return {"type": "function", "name": choice["name"]}
    if isinstance(choice, dict) and choice.get("type") == "custom":
        if not isinstance(choice.get("name"), str) or choice["name"] not in {t.get("name") for t in tools if t["type"] == "custom"}:
            raise invalid(f"Tool choice names custom tool {choice.get('name')!r}, which is not in 'tools'.", "tool_choice.name")
        return {"type": "custom", "name": choice["name"]}
    if choice == "required" and not tools:
        raise invalid("tool_choice 'required' needs at least one tool in 'tools'.", "tool_choice")
    return choice if choice is not None else "auto"


def _listed(entry: dict[str, Any], tool: dict[str, Any]) -> bool:
    """Whether an `allowed_tools` entry ({"type": "function", "name": …}, {"type": "file_search"},
    {"type": "mcp", "server_label": …}) designates `tool`: same type and the same identifying keys."""
    return tool.get("type") == entry["type"] and all(tool.get(k) == entry[k] for k in ("name", "server_label") if k in entry)


def _check_allowed_tools(choice: dict[str, Any], tools: list[dict[str, Any]]) -> dict[str, Any]:
    reject_unknown(choice, {"type", "mode", "tools"}, "tool_choice")
    mode = choice.get("mode")
    if mode not in ("auto", "required"):
        raise invalid(f"Invalid value for 'tool_choice.mode': {mode!r}. Supported values are: 'auto' and 'required'.", "tool_choice.mode")
    listed = choice.get("tools")
    if not isinstance(listed, list) or not listed:
        raise invalid("'tool_choice.tools' must list at least one tool of 'tools', e.g. {'type': 'function', 'name': …}.", "tool_choice.tools", "missing_required_parameter")
    for i, entry in enumerate(listed):
        where = f"tool_choice.tools[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise invalid(f"Invalid type for '{where}': expected a tool such as {{'type': 'function', 'name': …}}.", where, "invalid_type")
        if entry["type"] == "function" and not isinstance(entry.get("name"), str):
            raise invalid(f"Missing required parameter: '{where}.name'.", f"{where}.name", "missing_required_parameter")
        if not any(_listed(entry, tool) for tool in tools):
            if entry["type"] == "function":
                raise invalid(f"'{where}' names function {entry['name']!r}, which is not in 'tools'.", f"{where}.name")
            raise invalid(f"'{where}' names a {entry['type']!r} tool, which is not in 'tools'.", f"{where}.type")
    return {"type": "allowed_tools", "mode": mode, "tools": [dict(entry) for entry in listed]}


def allowed_tools(choice: Any, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tools of `tools` the model may see and call under `choice` (all of them unless
    `allowed_tools` lists some)."""
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return [tool for tool in tools if any(_listed(entry, tool) for entry in choice["tools"])]
    return tools


def after_tool_outputs(choice: Any) -> Any:
    """The tool_choice of a model turn that follows tool results within one run.

    A forcing choice (`required`, a named function or hosted tool, `allowed_tools` in mode
    `required`) applies to the turn that starts the run; the turns after its tool outputs choose
    freely (`auto`, over the same allowed tools), or a forced call would be forced again forever.
    This is the reset the OpenAI Agents SDK applies (`reset_tool_choice`). `none` stays `none`.
    """
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return {**choice, "mode": "auto"}
    if choice == "required" or isinstance(choice, dict):
        return "auto"
    return choice


def check_tool_outputs(history: list[dict[str, Any]], new_input: list[dict[str, Any]]) -> None:
    """Every function call the model made must be answered before the model runs again."""
    answered = {i.get("call_id") for i in history + new_input if i.get("type") in ("function_call_output", "custom_tool_call_output")}
    for item in history + new_input:
        if item.get("type") in ("function_call", "custom_tool_call") and item.get("call_id") not in answered:
            raise invalid(f"No tool output found for function call {item.get('call_id')}.", "input")


# -- compaction -------------------------------------------------------------------------
def encode_compaction(summary: str) -> str:
    """Opaque to clients, like OpenAI's; Onward reads it back as a summary of the past."""
    payload = orjson.dumps({"summary": summary})
    return COMPACTION_PREFIX + base64.urlsafe_b64encode(payload).decode()


def decode_compaction(content: str, param: str = "input") -> str:
    try:
        if not content.startswith(COMPACTION_PREFIX):
            raise ValueError
        return str(orjson.loads(base64.urlsafe_b64decode(content[len(COMPACTION_PREFIX):]))["summary"])
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid("The compaction item's encrypted_content was not produced by this server or is damaged.", param) from exc


def model_view(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as providers take them: compaction expanded to a summary, reasoning dropped."""
    out = []
    for item in toolset.model_items(items):
        kind = item.get("type", "message")
        if kind == "compaction":
            summary = decode_compaction(item["encrypted_content"])
            out.append({"type": "message", "role": "developer", "content": f"Summary of the conversation so far:\n{summary}"})
        elif kind in ("message", "function_call", "function_call_output"):
            out.append(item)
        elif kind == "file_search_call" and item.get("status") == "completed":
            # Past searches stay visible to the model as what they were asked for.
            queries = ", ".join(item.get("queries") or [])
            out.append({"type": "message", "role": "developer", "content": f"(Earlier, the files were searched for: {queries})"})
        elif kind == "code_interpreter_call" and item.get("code"):
            # The code ran in the container, whose state persists: the model sees what it ran.
            logs = "".join(o.get("logs", "") for o in item.get("outputs") or [] if o.get("type") == "logs")[:2000]
            out.append({"type": "message", "role": "developer", "content": f"(Earlier, this code ran in container {item.get('container_id')}:\n{item['code']}\n{logs})"})
    return out


def fit_context(provider: Provider, request: ModelRequest, truncation: str, over: int | None = None) -> ModelRequest:
    """Check the input fits the model's window; with `auto`, drop the oldest items until it does.
    `over`: a count already known to reach the window (a history's tail alone,
    engine/history.py `Tail.over`), so the whole request need not be counted to know it does
    not fit; it also stands for the request's count in the 400."""
    window = provider.context_window
    tokens = over if over is not None else provider.count_tokens(request)
    if tokens < window:
        return request
    if truncation != "auto":
        raise APIError(
            400,
            f"Your input exceeds the context window of this model ({tokens} tokens > {window}). "
            "Shorten the input, or set truncation='auto' to drop the oldest items.",
            param="input",
            code="context_length_exceeded",
        )
    # Find the fewest dropped items that fit. Counting is linear in what is kept, so start from
    # a guess made with the request's own tokens per character, then gallop and bisect: a
    # history then costs a few counts of window-sized requests. The answer is the fewest drops
    # whatever the guess, so a history read from its tail (engine/history.py) keeps exactly
    # what reading all of it keeps.
    items = request.input
    sizes = [len(orjson.dumps(item)) for item in items]
    per_char = tokens / max(1, sum(sizes))
    kept, guess = sum(sizes), len(items)
    for k, size in enumerate(sizes, 1):
        kept -= size
        if kept * per_char < window:
            guess = k
            break
    best = _fewest_drops(provider, request, guess, window)
    if best is None or not best.input:
        raise APIError(400, "The last input item alone exceeds the context window of this model.", param="input", code="context_length_exceeded")
    return best


def _fewest_drops(provider: Provider, request: ModelRequest, guess: int, window: int) -> ModelRequest | None:
    """The request that drops the fewest oldest items (k >= 1; the whole request is known not to
    fit) and fits, searched from `guess`; None when dropping all but none fits. Fitting is
    monotone in k: a shorter suffix never counts more."""
    n = len(request.input)
    memo: dict[int, ModelRequest | None] = {}

    def fits(k: int) -> bool:
        if k not in memo:
            trial = _drop(request, k)
            memo[k] = trial if provider.count_tokens(trial) < window else None
        return memo[k] is not None

    guess, step = min(max(guess, 1), n), 1
    if fits(guess):  # gallop down to a k that does not fit (0 never does)
        good, probe = guess, guess - 1
        while probe > 0 and fits(probe):
            good, probe, step = probe, probe - step, step * 2
        bad = max(probe, 0)
    else:  # gallop up to a k that fits
        bad, probe = guess, guess + 1
        while probe <= n and not fits(probe):
            bad, probe, step = probe, probe + step, step * 2
        if probe > n:
            if bad == n or not fits(n):
                return None
            probe = n
        good = probe
    while good - bad > 1:
        mid = (bad + good) // 2
        if fits(mid):
            good = mid
        else:
            bad = mid
    return memo[good]


def _drop(request: ModelRequest, count: int) -> ModelRequest:
    kept = request.input[count:]
    # A function output without its call confuses every model: drop orphans at the front.
    while kept and kept[0].get("type") == "function_call_output":
        kept = kept[1:]
    return ModelRequest(**{**request.__dict__, "input": kept})
