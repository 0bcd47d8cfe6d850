"""The agentic loop: call the model, run hosted tools it asks for, call it again, and turn it
all into `response.*` events.

A run owns no storage; the caller persists what it yields. Function calls end the run (the
client executes them); hosted tools (file_search) run here and loop back to the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from pydantic import BaseModel

from ..errors import APIError
from ..providers.base import (
    Finish,
    ModelRequest,
    Provider,
    ProviderError,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from ..tools import file_search
from ..tools.code_interpreter import tool as code_tool
from .context import after_tool_outputs
from .events import ResponseBuilder, response_error, usage_dict

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
MAX_HOSTED_ROUNDS = 4  # model → tool → model rounds before the model must answer

Search = Callable[..., Awaitable[list[dict[str, Any]]]]
RunCode = Callable[[str, Any], Awaitable[tuple[str, Any]]]


@dataclass
class Hosted:
    """Hosted tools of one response: their settings and how to run them."""

    file_search: dict[str, Any] | None = None  # the normalized tool
    search: Search | None = None
    include_results: bool = False
    upfront: bool = False  # search before the model runs (models that can't be trusted to call)
    results: list[dict[str, Any]] = field(default_factory=list)  # everything found, for citations
    max_calls: int | None = None  # the request's max_tool_calls: hosted calls this response may run
    calls: int = 0
    code_interpreter: dict[str, Any] | None = None  # the normalized tool
    run_code: RunCode | None = None  # code -> (container id, engine.containers.Run)
    include_outputs: bool = False
    file_url: Callable[[str, str], str] | None = None  # (container id, file id) -> the image URL
    written: list[dict[str, Any]] = field(default_factory=list)  # container files made, for citations

    @property
    def names(self) -> set[str]:
        return ({file_search.NAME} if self.file_search else set()) | ({code_tool.NAME} if self.code_interpreter else set())


async def _run_code(builder: ResponseBuilder, hosted: Hosted, code: str) -> AsyncIterator[BaseModel | str]:
    """Yield the code_interpreter_call item's events, then (last) the text the model reads.
    Errors in the code are outputs; a sandbox that cannot start fails the item, not the response."""
    hosted.calls += 1
    assert hosted.run_code is not None
    try:
        container_id, run = await hosted.run_code(code, None)
    except APIError as exc:
        container_id = exc.param if exc.param and exc.param.startswith("cntr_") else ""
        item, events = builder.code_start(container_id, code)
        for event in events + builder.code_done(item, None, "failed"):
            yield event
        yield f"The code could not run: {exc.message}"
        return
    item, events = builder.code_start(container_id, code)
    for event in events:
        yield event
    hosted.written.extend(run.images + run.files)
    outputs: list[dict[str, Any]] = [{"type": "logs", "logs": run.result.logs}]
    if hosted.file_url is not None:
        outputs += [{"type": "image", "url": hosted.file_url(container_id, img["id"])} for img in run.images]
    for event in builder.code_done(item, outputs if hosted.include_outputs else None):
        yield event
    yield code_tool.model_text(run.result.logs, run.images + run.files, run.result.error)


async def _run_file_search(builder: ResponseBuilder, hosted: Hosted, query: str, budget: int) -> AsyncIterator[BaseModel | str]:
    """Yield the file_search_call item's events, then (last) the text the model will read."""
    hosted.calls += 1
    item, events = builder.file_search_start([query])
    for event in events:
        yield event
    cfg = hosted.file_search or {}
    assert hosted.search is not None
    try:
        # Shielded: a cancelled run stops the model, never a search in the middle of its writes.
        results = await asyncio.shield(
            hosted.search(
                cfg["vector_store_ids"],
                query,
                max_num_results=cfg["max_num_results"],
                filters=cfg.get("filters"),
                score_threshold=cfg["ranking_options"]["score_threshold"] or None,
            )
        )
    except APIError as exc:
        for event in builder.file_search_done(item, None, "failed"):
            yield event
        yield f"The search failed: {exc.message}"
        return
    hosted.results.extend(results)
    for event in builder.file_search_done(item, file_search.result_items(results) if hosted.include_results else None):
        yield event
    yield file_search.format_results(results, budget)


def _last_user_text(request: ModelRequest) -> str:
    for item in reversed(request.input):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
    return ""


def _with_tool_result(request: ModelRequest, call_id: str, name: str, arguments: str, output: str) -> ModelRequest:
    items = [
        {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments},
        {"type": "function_call_output", "call_id": call_id, "output": output},
    ]
    return replace(request, input=request.input + items)


async def run_model(builder: ResponseBuilder, provider: Provider, request: ModelRequest, hosted: Hosted | None = None) -> AsyncIterator[BaseModel]:
    """Yield the events of the model's turns and the terminal lifecycle event."""
    hosted = hosted or Hosted()
    budget = max(2000, int(provider.context_window * 1.5))  # characters of results per search
    used = Usage()
    finish: Finish | None = None
    try:
        if hosted.file_search and hosted.upfront and request.tool_choice != "none":
            query = _last_user_text(request)[:500] or "overview"
            output = ""
            async for out in _run_file_search(builder, hosted, query, budget):
                if isinstance(out, str):
                    output = out
                else:
                    yield out
            args = orjson.dumps({"query": query}).decode()
            request = _with_tool_result(request, "call_upfront_search", file_search.NAME, args, output)
        for round_ in range(MAX_HOSTED_ROUNDS + 1):
            pending: dict[int, list[str]] = {}  # hosted calls of this turn: index -> [call_id, name, args…]
            client_calls = False
            finish = None
            async for event in provider.stream(request):
                if isinstance(event, TextDelta):
                    if event.text:
                        for out in builder.text_delta(event.text, event.logprobs):
                            yield out
                elif isinstance(event, ToolCallStart):
                    if event.name in hosted.names:
                        pending[event.index] = [event.call_id or f"call_h{round_}_{event.index}", event.name]
                    else:
                        client_calls = True
                        for out in builder.call_start(event.index, event.call_id, event.name):
                            yield out
                elif isinstance(event, ToolCallDelta):
                    if event.index in pending:
                        pending[event.index].append(event.arguments)
                    else:
                        for out in builder.call_delta(event.index, event.arguments):
                            yield out
                elif isinstance(event, Finish):
                    finish = event
                    break
            if finish is None:
                raise ProviderError("The model stream ended without finishing.", code="upstream_stream_interrupted")
            used = Usage(used.input_tokens + finish.usage.input_tokens, used.output_tokens + finish.usage.output_tokens, used.cached_tokens + finish.usage.cached_tokens, used.reasoning_tokens + finish.usage.reasoning_tokens)
            if not pending or client_calls or finish.reason == "length":
                break
            for call_id, name, *fragments in pending.values():
                arguments = "".join(fragments)
                output = "Not run: this response reached its max_tool_calls."
                if hosted.max_calls is not None and hosted.calls >= hosted.max_calls:
                    request = _with_tool_result(request, call_id, name, arguments, output)
                    continue
                if name == code_tool.NAME:
                    runs: AsyncIterator[BaseModel | str] = _run_code(builder, hosted, code_tool.code_of(arguments))
                else:
                    try:
                        query = str(orjson.loads(arguments).get("query") or "")
                    except (orjson.JSONDecodeError, AttributeError):
                        query = arguments
                    runs = _run_file_search(builder, hosted, query or _last_user_text(request), budget)
                async for out in runs:
                    if isinstance(out, str):
                        output = out
                    else:
                        yield out
                request = _with_tool_result(request, call_id, name, arguments, output)
            # A forced call was made: the turns after its results choose freely.
            request = replace(request, tool_choice=after_tool_outputs(request.tool_choice))
            spent = hosted.max_calls is not None and hosted.calls >= hosted.max_calls
            if round_ == MAX_HOSTED_ROUNDS - 1 or spent:  # enough searching: answer now
                request = replace(request, tools=[t for t in request.tools if t["name"] not in hosted.names])
    except ProviderError as exc:
        builder.fault = exc  # a non-streamed request may answer with it as an HTTP error
        for out in builder.close_all("incomplete"):
            yield out
        builder.set_status("failed", error=response_error(exc.code, exc.message))
        yield builder.lifecycle("response.failed")
        return

    assert finish is not None
    reason = _INCOMPLETE.get(finish.reason)
    annotations = None
    if hosted.results and builder.message_text:
        text = builder.message_text
        annotations = [{"type": "file_citation", "file_id": f["file_id"], "filename": f["filename"], "index": len(text)} for f in file_search.cited_files(text, hosted.results)]
    if hosted.written and builder.message_text:
        annotations = (annotations or []) + code_citations(builder.message_text, hosted.written)
    for out in builder.close_all("incomplete" if reason else "completed", annotations):
        yield out
    builder.body["usage"] = usage_dict(used.input_tokens, used.output_tokens, used.cached_tokens, used.reasoning_tokens)
    if reason:
        builder.set_status("incomplete", incomplete_details={"reason": reason})
        yield builder.lifecycle("response.incomplete")
    else:
        builder.set_status("completed")
        yield builder.lifecycle("response.completed")


def code_citations(text: str, written: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`container_file_citation`s for the files the code wrote: over the file's name where the
    answer mentions it (a `sandbox:/mnt/data/…` link or the bare name), else at the end."""
    out = []
    for f in written:
        name = f["path"].rsplit("/", 1)[-1]
        start = text.find(f["path"])
        length = len(f["path"])
        if start < 0:
            start, length = text.find(name), len(name)
        if start < 0:
            start, length = len(text), 0
        elif text[max(0, start - 8) : start] == "sandbox:":  # the link as the answer wrote it
            start, length = start - 8, length + 8
        out.append({"type": "container_file_citation", "container_id": f["container_id"], "file_id": f["id"], "filename": name, "start_index": start, "end_index": start + length})
    return out
