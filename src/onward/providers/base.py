"""The one small interface every model backend implements.

The engine hands a provider a `ModelRequest` (Responses-style items, already resolved from
history) and reads back a stream of `ModelEvent`s. Providers know nothing of storage, SSE or
response objects; the engine turns their events into `response.*` events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol


@dataclass
class ModelRequest:
    model: str  # the upstream model name (the route's `upstream_model`, else the public name)
    input: list[dict[str, Any]]  # Responses input items: message, function_call, function_call_output, ...
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)  # flat function tools {type, name, description, parameters, strict}
    # "auto" | "none" | "required" | {"type": "function", "name": ...}
    # | {"type": "allowed_tools", "mode": "auto"|"required", "tools": [{"type": "function", "name": ...}, ...]}
    # (`tools` then still lists every function; see `offered_tools`)
    tool_choice: str | dict[str, Any] = "auto"
    parallel_tool_calls: bool = True
    text_format: dict[str, Any] | None = None  # {"type": "text"|"json_object"|"json_schema", ...} (flat, Responses style)
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Log-probabilities wanted on the output text: None = not asked; n = the sampled token's own
    # plus the n (0-20) most likely alternatives at each position. Only sent to providers whose
    # `supports_logprobs` is true (the service checks).
    top_logprobs: int | None = None


# One token's log-probability, in the shape of the SDK's `response_output_text.Logprob`:
# {"token": str, "bytes": [int], "logprob": float (natural log, <= 0),
#  "top_logprobs": [{"token", "bytes", "logprob"}, ...] most likely first}
TokenLogprob = dict[str, Any]


def offered_tools(request: ModelRequest) -> ModelRequest:
    """The request as a model that has no `allowed_tools` choice sees it: only the allowed
    tools, with tool_choice `auto` or `required` (the mode). Other requests come back as they are.

    The portable reading of OpenAI's `allowed_tools`: Chat Completions upstreams such as vLLM or
    llama.cpp do not know it, and a model can only call a tool it was shown.
    """
    choice = request.tool_choice
    if not (isinstance(choice, dict) and choice.get("type") == "allowed_tools"):
        return request
    names = {entry.get("name") for entry in choice.get("tools") or ()}
    tools = [tool for tool in request.tools if tool.get("name") in names]
    return replace(request, tools=tools, tool_choice=str(choice.get("mode") or "auto") if tools else "auto")


@dataclass
class TextDelta:
    text: str
    # The tokens whose text this delta carries, when the request asked for them. Their `token`s
    # concatenate to `text` across a turn's deltas (a token may be split over two deltas, then it
    # rides with the first).
    logprobs: list[TokenLogprob] | None = None
    kind: Literal["text_delta"] = "text_delta"


@dataclass
class ToolCallStart:
    """A function call begins. `index` orders parallel calls of one turn."""

    index: int
    call_id: str
    name: str
    kind: Literal["tool_call_start"] = "tool_call_start"


@dataclass
class ToolCallDelta:
    index: int
    arguments: str  # a fragment of the JSON arguments
    kind: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class Finish:
    """The turn ended. `reason`: stop | length | tool_calls | content_filter."""

    reason: str
    usage: Usage
    kind: Literal["finish"] = "finish"


ModelEvent = TextDelta | ToolCallStart | ToolCallDelta | Finish


class ProviderError(Exception):
    """The model backend failed.

    `status` is the HTTP status a non-streamed request answers with when the failure comes
    before any output (see `engine/faults.py`): 400 for a request the upstream rejected (bad
    parameter, context too long), 401/403 for a missing or refused upstream key, 429 for an
    upstream rate limit (with `retry_after` seconds, when the upstream said), 502 for a failing
    or unreachable upstream, 503 when it says it is overloaded, 504 when it is too slow. Streams
    and background responses report the same failure as `response.failed`.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "server_error",
        status: int = 502,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.param = param
        self.retry_after = retry_after


class ContextWindowExceeded(ProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="context_length_exceeded", status=400, param="input")


class Provider(Protocol):
    """A model backend. One instance serves one route (one public model name)."""

    context_window: int  # tokens the model accepts (input + output)
    # Optional attribute, read with getattr(provider, "supports_logprobs", False): whether
    # `stream` fills `TextDelta.logprobs` when `request.top_logprobs` is set.

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Yield TextDelta/ToolCallStart/ToolCallDelta events, then exactly one Finish.

        Raise ProviderError for failures (retryable upstream faults already retried).
        """
        ...

    def count_tokens(self, request: ModelRequest) -> int:
        """Input tokens this request would cost (used for truncation and usage fallbacks)."""
        ...

    async def aclose(self) -> None: ...
