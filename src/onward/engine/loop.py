"""The agentic loop: call the model, turn its stream into `response.*` events, finish.

A run owns no storage; the caller persists what it yields. Function calls end the run (the
client executes them); hosted tools will loop back to the model here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel

from ..providers.base import (
    Finish,
    ModelRequest,
    Provider,
    ProviderError,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
)
from .events import ResponseBuilder, response_error, usage_dict

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


async def run_model(builder: ResponseBuilder, provider: Provider, request: ModelRequest) -> AsyncIterator[BaseModel]:
    """Yield the events of one model turn and the terminal lifecycle event."""
    finish: Finish | None = None
    try:
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                if event.text:
                    for out in builder.text_delta(event.text):
                        yield out
            elif isinstance(event, ToolCallStart):
                for out in builder.call_start(event.index, event.call_id, event.name):
                    yield out
            elif isinstance(event, ToolCallDelta):
                for out in builder.call_delta(event.index, event.arguments):
                    yield out
            elif isinstance(event, Finish):
                finish = event
                break
        if finish is None:
            raise ProviderError("The model stream ended without finishing.", code="upstream_stream_interrupted")
    except ProviderError as exc:
        for out in builder.close_all("incomplete"):
            yield out
        builder.set_status("failed", error=response_error(exc.code, exc.message))
        yield builder.lifecycle("response.failed")
        return

    reason = _INCOMPLETE.get(finish.reason)
    for out in builder.close_all("incomplete" if reason else "completed"):
        yield out
    u = finish.usage
    builder.body["usage"] = usage_dict(u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens)
    if reason:
        builder.set_status("incomplete", incomplete_details={"reason": reason})
        yield builder.lifecycle("response.incomplete")
    else:
        builder.set_status("completed")
        yield builder.lifecycle("response.completed")
