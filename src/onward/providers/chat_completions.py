"""A provider for any OpenAI-compatible `/chat/completions` upstream (vLLM, Ollama, llama.cpp, OpenAI).

Always streams; chunks are parsed with orjson straight into `ModelEvent`s (no per-chunk models),
since this is on the hot path of every request.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson

from ..ids import new_id
from .base import (
    Finish,
    ModelEvent,
    ModelRequest,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    offered_tools,
)
from .chat_format import to_chat_messages, to_chat_tool_choice, to_chat_tools, to_response_format
from .http import Upstream, UpstreamFault, error_fields, request_error
from .logprobs import from_upstream, unavailable

_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_PIECE = 50_000  # chars per encode call: bpe_openai refuses very long inputs


@functools.cache
def _encoder() -> Any:
    # Loading the ranks takes ~0.1 s: once per process, on first use. bpe_openai still uses
    # the deprecated importlib.resources.open_binary, which would warn on every test run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")


def count_text_tokens(text: str) -> int:
    if not text:
        return 0
    try:
        encode = _encoder().encode_ordinary  # ordinary: "<|endoftext|>" in user text is just text
        return sum(len(encode(text[i : i + _PIECE])) for i in range(0, len(text), _PIECE))
    except Exception:  # an estimate must never fail a request
        return len(text) // 4 + 1


def estimate_input_tokens(request: ModelRequest) -> int:
    """Tokens of the rendered messages and tool schemas, plus the per-message framing."""
    messages = to_chat_messages(request, rich=False)
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if content:
            parts.append(content if isinstance(content, str) else orjson.dumps(content).decode())
        for call in message.get("tool_calls") or ():
            parts.append(call["function"]["name"] or "")
            parts.append(call["function"]["arguments"] or "")
    if request.tools:
        parts.append(orjson.dumps(to_chat_tools(request)).decode())
    if request.text_format and request.text_format.get("schema"):
        parts.append(orjson.dumps(request.text_format["schema"]).decode())
    return count_text_tokens("\n".join(parts)) + 4 * len(messages) + 3


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


class _ChatStream:
    """Parses one attempt's chunks. Tool calls are keyed by the upstream's `index`.
    `top_logprobs`: the request's (None when log-probabilities were not asked for)."""

    def __init__(self, estimate_input: Callable[[], int], top_logprobs: int | None = None) -> None:
        self.top_logprobs = top_logprobs
        self.logprobs: list[TokenLogprob] = []  # tokens not yet attached to a text delta
        self.seen_logprobs = False
        self.done = False
        self.reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.calls: dict[int, list[Any]] = {}  # upstream index -> [our index or -1, id, name, args]
        self.started = 0
        self.out: list[str] = []  # output text, for a usage estimate if the upstream sends none
        self.estimate_input = estimate_input

    def feed(self, data: bytes) -> list[ModelEvent]:
        if data == b"[DONE]":
            return self._finish()
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamFault(f"invalid chunk from upstream: {data[:200]!r}") from None
        if not isinstance(chunk, dict):
            raise UpstreamFault(f"invalid chunk from upstream: {data[:200]!r}")
        return self._chunk(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> list[ModelEvent]:
        if chunk.get("error"):  # vLLM and others report late failures in-stream
            raise _stream_error(chunk["error"])
        events: list[ModelEvent] = []
        choices = chunk.get("choices")
        if choices:
            choice = choices[0]  # we never ask for n > 1
            delta = choice.get("delta") or choice.get("message")
            if delta:
                text = delta.get("content")
                if text and not isinstance(text, str):  # a list of parts (Mistral and others)
                    text = "".join(p.get("text") or "" for p in text if isinstance(p, dict) and p.get("type") == "text")
                if self.top_logprobs is not None:
                    self._logprobs(choice.get("logprobs"), bool(text))
                if text:
                    self.out.append(text)
                    events.append(TextDelta(text, self._take_logprobs()))
                calls = delta.get("tool_calls")
                if calls:
                    self._tool_calls(calls, events)
                legacy = delta.get("function_call")
                if legacy:
                    self._tool_calls([{"index": 0, "function": legacy}], events)
            if choice.get("finish_reason"):
                self.reason = choice["finish_reason"]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        if self.reason is not None and self.usage is not None:
            # Usage is the last thing we need: finish now, the `[DONE]` is drained later.
            events.extend(self._finish())
        return events

    def _logprobs(self, logprobs: Any, has_text: bool) -> None:
        content = logprobs.get("content") if isinstance(logprobs, dict) else None
        if content:
            self.logprobs.extend(from_upstream(e, self.top_logprobs or 0) for e in content)
            self.seen_logprobs = True
        elif has_text and not self.seen_logprobs:  # the first text came bare: the upstream ignores them
            raise unavailable()

    def _take_logprobs(self) -> list[TokenLogprob] | None:
        if self.top_logprobs is None:
            return None
        taken, self.logprobs = self.logprobs, []
        return taken

    def _tool_calls(self, calls: list[dict[str, Any]], events: list[ModelEvent]) -> None:
        for pos, delta in enumerate(calls):
            index = delta.get("index", pos)  # some servers omit `index`
            fn = delta.get("function") or {}
            call = self.calls.get(index)
            name = fn.get("name")
            if call is None or (call[0] >= 0 and name and delta.get("id") not in (None, call[1])):
                # New call (or a server that reuses index 0 for several complete calls).
                call = self.calls[index] = [-1, None, None, ""]
            if call[1] is None and delta.get("id"):
                call[1] = delta["id"]
            args = fn.get("arguments") or ""
            if not isinstance(args, str):  # an object, as Ollama's native API sends
                args = orjson.dumps(args).decode()
            if call[0] < 0:
                call[2] = call[2] or name
                call[3] += args
                if not call[2]:
                    continue  # wait for the name before announcing the call
                call[0] = self.started
                self.started += 1
                events.append(ToolCallStart(call[0], call[1] or new_id("call"), call[2]))
                self.out.append(call[2])
                args = call[3]
            if args:
                self.out.append(args)
                events.append(ToolCallDelta(call[0], args))

    def _finish(self) -> list[ModelEvent]:
        if self.reason is None:
            raise UpstreamFault("upstream stream ended without a finish_reason")
        self.done = True
        reason = _REASONS.get(self.reason, "stop")
        if reason == "stop" and self.started:  # Ollama and others say "stop" after tool calls
            reason = "tool_calls"
        u = self.usage
        if u:
            usage = Usage(
                input_tokens=_int(u.get("prompt_tokens")),
                output_tokens=_int(u.get("completion_tokens")),
                cached_tokens=_int((u.get("prompt_tokens_details") or {}).get("cached_tokens")),
                reasoning_tokens=_int((u.get("completion_tokens_details") or {}).get("reasoning_tokens")),
            )
        else:
            usage = Usage(input_tokens=self.estimate_input(), output_tokens=count_text_tokens("".join(self.out)))
        return [Finish(reason, usage)]

    def end(self) -> list[ModelEvent]:  # no `[DONE]`: tolerated once a finish_reason came
        return self._finish()

    def whole(self, body: bytes) -> list[ModelEvent]:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamFault(f"invalid reply from upstream: {body[:200]!r}") from None
        if not isinstance(obj, dict):
            raise UpstreamFault(f"invalid reply from upstream: {body[:200]!r}")
        events = self._chunk(obj)
        return events if self.done else events + self._finish()


def _stream_error(err: Any) -> Exception:
    message, code, kind, param = error_fields(orjson.dumps({"error": err}))
    status = err.get("code") if isinstance(err, dict) else None
    if isinstance(status, int) and 400 <= status < 500 and status != 429:
        return request_error(message, code, kind, param)
    if code == "context_length_exceeded":
        return request_error(message, code, kind, param)
    if status == 429:
        return UpstreamFault(f"upstream error: {message}", code="rate_limit_exceeded", status=429)
    return UpstreamFault(f"upstream error: {message}")


class UpstreamProvider:
    """What both HTTP providers share: a model name, one pooled upstream, token estimates."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        context_window: int = 128000,
        timeout: float = 600.0,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 4.0,
        client: aiohttp.ClientSession | None = None,
        auth_hint: str | None = None,
        connections: int = 4096,
    ) -> None:
        self.model = model
        self.context_window = context_window
        self.http = Upstream(
            base_url,
            api_key,
            timeout=timeout,
            connections=connections,
            retries=retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            client=client,
            auth_hint=auth_hint,
        )

    def count_tokens(self, request: ModelRequest) -> int:
        return estimate_input_tokens(request)

    async def aclose(self) -> None:
        await self.http.aclose()


class ChatCompletionsProvider(UpstreamProvider):
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        json_schema_style: str = "json_schema",
        supports_logprobs: bool = True,
        **upstream: Any,
    ) -> None:
        super().__init__(base_url, api_key, model, **upstream)
        # Most servers (OpenAI, vLLM, llama.cpp) return `logprobs`; a route whose upstream does
        # not sets `logprobs = false`, so that asking for them is a 400 before any call.
        self.supports_logprobs = supports_logprobs
        # "json_object_schema": upstreams such as llama-cpp-python's server take a schema as
        # {"type": "json_object", "schema": …} and reject OpenAI's json_schema wrapper.
        self.json_schema_style = json_schema_style

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        request = offered_tools(request)  # `allowed_tools` as only those tools: every upstream takes it
        body: dict[str, Any] = {
            "model": self.model or request.model,
            "messages": to_chat_messages(request),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = to_chat_tools(request)
            # "auto" is everyone's default; vLLM refuses it explicitly unless started with
            # --enable-auto-tool-choice, so it is only sent when it says something.
            if request.tool_choice != "auto":
                body["tool_choice"] = to_chat_tool_choice(request.tool_choice)
            body["parallel_tool_calls"] = request.parallel_tool_calls
        response_format = to_response_format(request.text_format)
        if response_format and response_format["type"] == "json_schema" and self.json_schema_style == "json_object_schema":
            response_format = {"type": "json_object", "schema": response_format["json_schema"]["schema"]}
        if response_format:
            body["response_format"] = response_format
        if request.max_output_tokens is not None:
            body["max_tokens"] = request.max_output_tokens  # max_completion_tokens is not universal
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.top_logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = request.top_logprobs
        return body

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        body = self.build_body(request)
        return self.http.stream("/chat/completions", body, lambda: _ChatStream(lambda: self.count_tokens(request), request.top_logprobs))
