"""Preparing a Responses create: the request checked and turned into a `Prepared` (the response
body, the model request, the hosted tools' settings), before anything runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import invalid
from ..providers.base import ModelRequest
from ..tools import file_search
from ..tools.code_interpreter import tool as code_tool
from . import context, toolset
from .params import CreateResponse


@dataclass
class Prepared:
    body: dict[str, Any]
    input_items: list[dict[str, Any]]
    request: ModelRequest
    model: str  # the registry name that serves it
    stream: bool
    background: bool
    store: bool
    conversation_id: str | None = None
    hosted: dict[str, Any] | None = None  # {"file_search": tool, "include_results": bool, "upfront": bool}
    rate_caller: str | None = None  # admitted by the route's rate limiter as this caller
    rate_tokens: int = 0  # tokens charged at admission (settled to the usage after)
    rate_headers: dict[str, str] = field(default_factory=dict)  # x-ratelimit-* for the reply
    wait_for_limits: bool = False  # an upstream pause is waited out (Assistants runs)

    def saved(self) -> dict[str, Any]:
        """What a stored response keeps to run (again) without its request: model and input."""
        saved: dict[str, Any] = {"model": self.model, "request": dict(self.request.__dict__), "hosted": self.hosted}
        if self.rate_caller is not None:  # a background run settles its admission charge
            saved["rate"] = [self.rate_caller, self.rate_tokens]
        return saved


def build_prepared(
    params: CreateResponse, model: Any, response_id: str, conv_id: str | None, past: list[dict[str, Any]], new_items: list[dict[str, Any]], over: int | None = None
) -> Prepared:
    """A create request checked and turned into what runs it: the response body (status
    `queued` or `in_progress`), the model request over `past` + `new_items`, the hosted tools'
    settings. `model` is the registry entry serving it; `over`: `past` is a history's tail whose
    own count (history.Tail.over) reaches the window. Raises the 400s of its fields."""
    tools = context.normalize_tools(params.tools)
    tool_choice = context.check_tool_choice(params.tool_choice, tools)
    context.check_tool_outputs(past, new_items)
    text_format = params.text.format.to_dict() if params.text and params.text.format else {"type": "text"}
    if text_format["type"] == "json_schema" and not isinstance(text_format.get("schema"), dict):
        raise invalid("Missing required parameter: 'text.format.schema'.", "text.format.schema", "missing_required_parameter")
    if text_format["type"] == "json_schema" and not text_format.get("name"):
        raise invalid("Missing required parameter: 'text.format.name'.", "text.format.name", "missing_required_parameter")
    functions = toolset.model_functions(tools)
    # `allowed_tools` narrows what the model may call; the function list stays whole so that
    # an upstream which knows the choice (OpenAI's) sees the same, cacheable tool list.
    offered = context.allowed_tools(tool_choice, tools)
    search_tool = next((t for t in offered if t["type"] == "file_search"), None)
    hosted = None
    if search_tool:
        # Models that can't be trusted to call tools (the embedded one) get the search
        # done for them, with the user's question as the query.
        upfront = not getattr(model.provider, "reliable_tool_calls", True) or tool_choice == {"type": "file_search"}
        hosted = {"file_search": search_tool, "include_results": "file_search_call.results" in (params.include or []), "upfront": upfront, "max_tool_calls": params.max_tool_calls}
        if not upfront:
            functions.append(file_search.as_function())
    code = next((t for t in tools if t["type"] == code_tool.NAME), None)
    if code:
        hosted = (hosted or {"max_tool_calls": params.max_tool_calls}) | {"code_interpreter": code, "include_outputs": code_tool.INCLUDE_OUTPUTS in (params.include or [])}
        functions.append(code_tool.as_function())
    top_logprobs = _logprobs_wanted(params, model)
    model_choice = "auto" if isinstance(tool_choice, dict) and tool_choice.get("type") == "file_search" else tool_choice
    if isinstance(tool_choice, dict) and tool_choice.get("type") == code_tool.NAME:
        model_choice = {"type": "function", "name": code_tool.NAME}
    if isinstance(model_choice, dict) and model_choice.get("type") == "custom":  # offered as a function
        model_choice = {"type": "function", "name": model_choice.get("name")}
    if isinstance(model_choice, dict) and model_choice.get("type") in toolset.NOT_RUN | {"computer_use"}:
        model_choice = "auto"  # the model does not see that tool
    if isinstance(model_choice, dict) and model_choice.get("type") == "allowed_tools":
        model_choice = _allowed_for_model(model_choice["mode"], functions, offered)
        if model_choice == "auto":
            functions = []  # nothing listed is for the model to call (an upfront search)
    if model_choice == "required" and not functions:
        model_choice = "auto"
    request = ModelRequest(
        model=model.upstream_name,
        input=context.model_view(past + new_items),
        instructions=params.instructions,
        tools=functions if tool_choice != "none" else [],
        tool_choice=model_choice,
        parallel_tool_calls=params.parallel_tool_calls is not False,
        text_format=text_format if text_format["type"] != "text" else None,
        max_output_tokens=params.max_output_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        metadata=params.metadata or {},
        top_logprobs=top_logprobs,
    )
    request = context.fit_context(model.provider, request, params.truncation or "disabled", over)
    background = bool(params.background)
    store = params.store is not False
    body = {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "completed_at": None,
        "status": "queued" if background else "in_progress",
        "background": background,
        "error": None,
        "incomplete_details": None,
        "instructions": params.instructions,
        "max_output_tokens": params.max_output_tokens,
        "max_tool_calls": params.max_tool_calls,
        "model": params.model or model.name,
        "output": [],
        "parallel_tool_calls": params.parallel_tool_calls is not False,
        "previous_response_id": params.previous_response_id,
        "reasoning": {"effort": params.reasoning.effort if params.reasoning else None, "summary": params.reasoning.summary if params.reasoning else None},
        "store": store,
        "temperature": params.temperature if params.temperature is not None else 1.0,
        "top_p": params.top_p if params.top_p is not None else 1.0,
        "presence_penalty": params.presence_penalty or 0.0,
        "frequency_penalty": params.frequency_penalty or 0.0,
        "top_logprobs": params.top_logprobs or 0,
        "text": {"format": text_format, "verbosity": (params.text.verbosity if params.text else None) or "medium"},
        "tool_choice": tool_choice,
        "tools": tools,
        "truncation": params.truncation or "disabled",
        "usage": None,
        "user": params.user,
        "metadata": params.metadata or {},
        "service_tier": params.service_tier if params.service_tier in ("flex", "priority", "scale") else "default",
        "safety_identifier": params.safety_identifier,
        "prompt_cache_key": params.prompt_cache_key,
        "conversation": {"id": conv_id} if conv_id else None,
    }
    return Prepared(body, new_items, request, model.name, bool(params.stream), background, store, conv_id, hosted)


def _allowed_for_model(mode: str, functions: list[dict[str, Any]], offered: list[dict[str, Any]]) -> Any:
    """An `allowed_tools` choice as providers take it: {"type": "allowed_tools", "mode", "tools":
    [{"type": "function", "name"}, …]} over the functions the model may call (`file_search` as
    the function the engine runs); plain "auto" when none is left for the model."""
    names = {t["name"] for t in toolset.model_functions(offered)}
    if any(t["type"] == "file_search" for t in offered):
        names.add(file_search.NAME)
    listed = [{"type": "function", "name": t["name"]} for t in functions if t["name"] in names]
    return {"type": "allowed_tools", "mode": mode, "tools": listed} if listed else "auto"


def conversation_id(value: str | dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    conv_id = value if isinstance(value, str) else value.get("id")
    if not isinstance(conv_id, str) or not conv_id:
        raise invalid("'conversation' must be a conversation id or {'id': …}.", "conversation")
    return conv_id


LOGPROBS = "message.output_text.logprobs"


def _logprobs_wanted(params: CreateResponse, model: Any) -> int | None:
    """`ModelRequest.top_logprobs`: None unless `include` asks for the output text's
    log-probabilities (as on OpenAI, `top_logprobs` alone adds nothing). 400 on a route whose
    provider cannot give them, naming the include entry, rather than an empty list."""
    include = params.include or []
    if LOGPROBS not in include:
        return None
    if not getattr(model.provider, "supports_logprobs", False):
        raise invalid(
            f"include '{LOGPROBS}' is not available for model '{model.name}': its {model.route.provider} provider returns no log-probabilities.",
            f"include[{include.index(LOGPROBS)}]",
            "unsupported_value",
        )
    return params.top_logprobs or 0

