"""A pass-through provider for an upstream Responses API (OpenAI's `/responses`).

Onward keeps the conversation state, so the upstream is called with `store: false` and the
full input every time; its stream is cut down to the few `ModelEvent`s the engine needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from ..ids import new_id
from .base import (
    Finish,
    ModelEvent,
    ModelRequest,
    ProviderError,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from .chat_completions import UpstreamProvider, count_text_tokens
from .http import UpstreamFault, request_error
from .logprobs import from_upstream, unavailable

_TRANSIENT = frozenset({"server_error", "rate_limit_exceeded", "internal_error", "overloaded"})


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def upstream_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items the upstream will accept without stored state.

    Ids minted by Onward mean nothing upstream (with `store: false` it may even look them up),
    and reasoning items are only replayable with their encrypted content.
    """
    out = []
    for item in items:
        kind = item.get("type")
        if kind == "reasoning":
            if item.get("encrypted_content"):
                out.append(item)
            continue
        if kind == "item_reference":
            continue
        out.append({k: v for k, v in item.items() if k != "id"} if "id" in item else item)
    return out


def _event_error(err: dict[str, Any]) -> ProviderError:
    message = str(err.get("message") or "upstream response failed")
    code = err.get("code") if isinstance(err.get("code"), str) else None
    if code in _TRANSIENT:
        if code == "rate_limit_exceeded":
            return UpstreamFault(f"upstream error: {message}", code=code, status=429)
        return UpstreamFault(f"upstream error: {message}")
    if code == "context_length_exceeded" or err.get("param") or (code or "").startswith("invalid"):
        return request_error(message, code, err.get("type"), err.get("param"))
    return ProviderError(message, code=code or "upstream_error", status=502)


class _ResponsesStream:
    """Parses one attempt's events. Function calls are keyed by their `output_index`."""

    def __init__(self, estimate_input: Callable[[], int], top_logprobs: int | None = None) -> None:
        self.top_logprobs = top_logprobs
        self.seen_logprobs = False
        self.done = False
        self.calls: dict[Any, list[Any]] = {}  # output_index and item id -> [our index, args seen]
        self.started = 0
        self.out: list[str] = []
        self.estimate_input = estimate_input

    def feed(self, data: bytes) -> list[ModelEvent]:
        if data == b"[DONE]":
            return self.end()
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamFault(f"invalid event from upstream: {data[:200]!r}") from None
        if not isinstance(event, dict):
            raise UpstreamFault(f"invalid event from upstream: {data[:200]!r}")
        kind = event.get("type")
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            text = event.get("delta")
            if text:
                self.out.append(text)
                logprobs = None
                if self.top_logprobs is not None:
                    logprobs = [from_upstream(e, self.top_logprobs) for e in event.get("logprobs") or []]
                    if not logprobs and not self.seen_logprobs:
                        raise unavailable()
                    self.seen_logprobs = True
                return [TextDelta(text, logprobs)]
            return []
        if kind == "response.function_call_arguments.delta":
            call = self.calls.get(event.get("output_index")) or self.calls.get(event.get("item_id"))
            args = event.get("delta")
            if call is None or not args:
                return []
            call[1] = True
            self.out.append(args)
            return [ToolCallDelta(call[0], args)]
        if kind == "response.output_item.added":
            return self._added(event)
        if kind == "response.output_item.done":
            return self._item_done(event.get("item") or {}, event.get("output_index"))
        if kind == "response.completed" or kind == "response.incomplete":
            return self._finish(event.get("response") or {})
        if kind == "response.failed":
            raise _event_error((event.get("response") or {}).get("error") or {})
        if kind == "error":
            err = event.get("error")
            raise _event_error(err if isinstance(err, dict) else event)
        return []  # created, in_progress, content_part.*, *.done, reasoning, ...

    def _added(self, event: dict[str, Any]) -> list[ModelEvent]:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return []
        call = [self.started, False]
        self.started += 1
        self.calls[event.get("output_index")] = call
        if item.get("id"):
            self.calls[item["id"]] = call
        name = item.get("name") or ""
        self.out.append(name)
        events: list[ModelEvent] = [ToolCallStart(call[0], item.get("call_id") or new_id("call"), name)]
        if item.get("arguments"):
            call[1] = True
            events.append(ToolCallDelta(call[0], item["arguments"]))
        return events

    def _item_done(self, item: dict[str, Any], output_index: Any) -> list[ModelEvent]:
        # A server that skips the argument deltas still gives the full arguments here.
        call = self.calls.get(output_index) or self.calls.get(item.get("id"))
        if call is None or call[1] or not item.get("arguments"):
            return []
        call[1] = True
        self.out.append(item["arguments"])
        return [ToolCallDelta(call[0], item["arguments"])]

    def _finish(self, response: dict[str, Any]) -> list[ModelEvent]:
        self.done = True
        if response.get("status") == "incomplete":
            why = (response.get("incomplete_details") or {}).get("reason")
            reason = "content_filter" if why == "content_filter" else "length"
        else:
            reason = "tool_calls" if self.started else "stop"
        u = response.get("usage")
        if u:
            usage = Usage(
                input_tokens=_int(u.get("input_tokens")),
                output_tokens=_int(u.get("output_tokens")),
                cached_tokens=_int((u.get("input_tokens_details") or {}).get("cached_tokens")),
                reasoning_tokens=_int((u.get("output_tokens_details") or {}).get("reasoning_tokens")),
            )
        else:
            usage = Usage(input_tokens=self.estimate_input(), output_tokens=count_text_tokens("".join(self.out)))
        return [Finish(reason, usage)]

    def end(self) -> list[ModelEvent]:
        raise UpstreamFault("upstream stream ended without response.completed")

    def whole(self, body: bytes) -> list[ModelEvent]:
        raise UpstreamFault(f"upstream did not stream: {body[:200]!r}", retryable=False)


class OpenAIResponsesProvider(UpstreamProvider):
    supports_logprobs = True  # asked for with the same include and top_logprobs

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model or request.model,
            "input": upstream_input(request.input),
            "stream": True,
            "store": False,  # the state lives in Onward
        }
        if request.instructions:
            body["instructions"] = request.instructions
        if request.tools:
            body["tools"] = request.tools
            body["tool_choice"] = request.tool_choice
            body["parallel_tool_calls"] = request.parallel_tool_calls
        if request.text_format:
            body["text"] = {"format": request.text_format}
        if request.max_output_tokens is not None:
            body["max_output_tokens"] = request.max_output_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.top_logprobs is not None:
            body["include"] = ["message.output_text.logprobs"]
            body["top_logprobs"] = request.top_logprobs
        return body

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        body = self.build_body(request)
        return self.http.stream("/responses", body, lambda: _ResponsesStream(lambda: self.count_tokens(request), request.top_logprobs))

