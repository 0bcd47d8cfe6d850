"""OpenAIResponsesProvider against the fake upstream, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from onward.providers.base import (
    ContextWindowExceeded,
    Finish,
    ModelRequest,
    ProviderError,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
)
from onward.providers.openai_responses import OpenAIResponsesProvider
from tests.fakes import Control, Fault, Reply, ToolCall, start_fake_upstream


@pytest.fixture(scope="module")
def upstream() -> Any:
    base_url, control = start_fake_upstream()
    yield base_url, control
    control.close()


@pytest.fixture
def fake(upstream: tuple[str, Control]) -> tuple[str, Control]:
    upstream[1].reset()
    return upstream


@asynccontextmanager
async def provider(base_url: str, **kw: Any) -> AsyncIterator[OpenAIResponsesProvider]:
    opts: dict[str, Any] = {"timeout": 2.0, "retries": 3, "backoff_base": 0.01, "backoff_max": 0.05}
    opts.update(kw)
    api_key = opts.pop("api_key", "sk-test")
    p = OpenAIResponsesProvider(base_url, api_key, "gpt-up", **opts)
    try:
        yield p
    finally:
        await p.aclose()


def req(**kw: Any) -> ModelRequest:
    kw.setdefault("input", [{"type": "message", "role": "user", "content": "Hi"}])
    return ModelRequest(model="public-model", **kw)


async def collect(p: OpenAIResponsesProvider, request: ModelRequest | None = None) -> list[Any]:
    return [e async for e in p.stream(request or req())]


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_text_streaming_and_usage(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.reply = Reply(text="Hello there, world!", chunks=4, prompt_tokens=30, completion_tokens=6, cached_tokens=8, reasoning_tokens=2)
    async with provider(base_url) as p:
        events = await collect(p)
    assert [type(e) for e in events] == [TextDelta] * 4 + [Finish]
    assert text_of(events) == "Hello there, world!"
    usage = events[-1].usage
    assert events[-1].reason == "stop"
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.reasoning_tokens) == (30, 6, 8, 2)


async def test_function_calls(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    args_a, args_b = '{"city": "Paris"}', '{"tz": "Asia/Tokyo"}'
    control.reply = Reply(text="Let me check.", tool_calls=[ToolCall("get_weather", args_a, "call_up_1"), ToolCall("get_time", args_b, "call_up_2")])
    async with provider(base_url) as p:
        events = await collect(p)
    assert text_of(events) == "Let me check."
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert starts == [ToolCallStart(0, "call_up_1", "get_weather"), ToolCallStart(1, "call_up_2", "get_time")]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(deltas) == 6
    assert "".join(d.arguments for d in deltas if d.index == 0) == args_a
    assert "".join(d.arguments for d in deltas if d.index == 1) == args_b
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool_calls"


async def test_request_mapping(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},  # not replayable without encrypted content
        {"type": "function_call", "id": "fc_onward", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "id": "fco_onward", "call_id": "call_1", "output": "sunny"},
    ]
    tools = [{"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {}}, "strict": False}]
    text_format = {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": True}
    request = req(
        instructions="Be brief.",
        input=items,
        tools=tools,
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        text_format=text_format,
        max_output_tokens=100,
        temperature=0.5,
        top_p=0.8,
    )
    async with provider(base_url, api_key="sk-openai") as p:
        await collect(p, request)
    received = control.requests[-1]
    assert received.path == "/responses"
    assert received.headers["authorization"] == "Bearer sk-openai"
    body = received.body
    assert body["model"] == "gpt-up"
    assert body["stream"] is True and body["store"] is False
    assert body["instructions"] == "Be brief."
    assert body["input"] == [
        items[0],
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]
    assert body["tools"] == tools
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["parallel_tool_calls"] is False
    assert body["text"] == {"format": text_format}
    assert body["max_output_tokens"] == 100
    assert body["temperature"] == 0.5 and body["top_p"] == 0.8


async def test_minimal_request(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    async with provider(base_url, api_key=None) as p:
        await collect(p)
    received = control.requests[-1]
    assert "authorization" not in received.headers
    for key in ("instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "max_output_tokens", "temperature", "top_p"):
        assert key not in received.body


async def test_incomplete_is_length(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.reply = Reply(text="cut sho", finish_reason="length")
    async with provider(base_url) as p:
        events = await collect(p)
    assert events[-1].reason == "length" and events[-1].usage.input_tokens == 12


async def test_response_failed(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.reply = Reply(text="", error={"code": "invalid_prompt", "message": "prompt flagged"})
    async with provider(base_url) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert info.value.code == "invalid_prompt" and info.value.message == "prompt flagged"
    assert len(control.requests) == 1


async def test_response_failed_server_error_before_output_is_retried(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.replies.append(Reply(text="", error={"code": "server_error", "message": "oops"}))
    async with provider(base_url) as p:
        events = await collect(p)
    assert text_of(events) == "Hello from the fake upstream."
    assert len(control.requests) == 2


async def test_429_twice_then_success(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(429, times=2, retry_after="0.1")
    async with provider(base_url, backoff_max=5.0) as p:
        start = time.monotonic()
        events = await collect(p)
    assert time.monotonic() - start >= 0.2
    assert isinstance(events[-1], Finish)
    assert len(control.requests) == 3


async def test_500_exhausted_is_502(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(500, times=3)
    async with provider(base_url, retries=2) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert (info.value.code, info.value.status) == ("upstream_error", 502)
    assert "HTTP 500" in info.value.message
    assert len(control.requests) == 3


async def test_stall_is_upstream_timeout(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.stall(10.0, times=3)
    async with provider(base_url, timeout=0.3, retries=1) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert (info.value.code, info.value.status) == ("upstream_timeout", 504)
    assert len(control.requests) == 2


async def test_400_is_not_retried(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(400, body={"error": {"message": "Unsupported parameter: 'top_p'", "type": "invalid_request_error", "param": "top_p", "code": "unsupported_parameter"}})
    async with provider(base_url) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert (info.value.status, info.value.code, info.value.param) == (400, "unsupported_parameter", "top_p")
    assert info.value.message == "Unsupported parameter: 'top_p'"
    assert len(control.requests) == 1


async def test_context_window_exceeded(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(400, body={"error": {"message": "Your input exceeds the context window of this model.", "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}})
    async with provider(base_url) as p:
        with pytest.raises(ContextWindowExceeded):
            await collect(p)


async def test_cut_after_first_delta_is_interrupted(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.cut(after_chunks=1)
    async with provider(base_url) as p:
        events: list[Any] = []
        with pytest.raises(ProviderError) as info:
            async for e in p.stream(req()):
                events.append(e)
    assert (info.value.code, info.value.status) == ("upstream_stream_interrupted", 502)
    assert len(events) == 1 and len(control.requests) == 1


async def test_stream_without_completed_is_interrupted(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.faults.append(Fault(end_after=2))
    async with provider(base_url) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert info.value.code == "upstream_stream_interrupted"


async def test_connection_is_reused(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    async with provider(base_url) as p:
        for _ in range(3):
            await collect(p)
    assert len({r.client_port for r in control.requests}) == 1
