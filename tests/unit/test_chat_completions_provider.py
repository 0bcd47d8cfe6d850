"""ChatCompletionsProvider against the fake upstream, over real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
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
from onward.providers.chat_completions import ChatCompletionsProvider, _ChatStream
from onward.providers.http import iter_sse
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
async def provider(base_url: str, **kw: Any) -> AsyncIterator[ChatCompletionsProvider]:
    opts: dict[str, Any] = {"timeout": 2.0, "retries": 3, "backoff_base": 0.01, "backoff_max": 0.05}
    opts.update(kw)
    api_key = opts.pop("api_key", "sk-test")
    p = ChatCompletionsProvider(base_url, api_key, "up-model", **opts)
    try:
        yield p
    finally:
        await p.aclose()


def req(**kw: Any) -> ModelRequest:
    kw.setdefault("input", [{"type": "message", "role": "user", "content": "Hi"}])
    return ModelRequest(model="public-model", **kw)


async def collect(p: ChatCompletionsProvider, request: ModelRequest | None = None) -> list[Any]:
    return [e async for e in p.stream(request or req())]


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_text_streaming_and_usage(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.reply = Reply(text="Hello there, world!", chunks=4, prompt_tokens=21, completion_tokens=5, cached_tokens=3, reasoning_tokens=2)
    async with provider(base_url) as p:
        events = await collect(p)
    assert [type(e) for e in events] == [TextDelta] * 4 + [Finish]
    assert text_of(events) == "Hello there, world!"
    finish = events[-1]
    assert finish.reason == "stop"
    assert (finish.usage.input_tokens, finish.usage.output_tokens) == (21, 5)
    assert (finish.usage.cached_tokens, finish.usage.reasoning_tokens) == (3, 2)


async def test_usage_on_finish_chunk_and_no_done(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.usage_with_finish = True
    control.send_done = False
    async with provider(base_url) as p:
        events = await collect(p)
    assert isinstance(events[-1], Finish) and events[-1].usage.input_tokens == 12
    assert sum(isinstance(e, Finish) for e in events) == 1


async def test_usage_estimated_when_upstream_sends_none(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.send_usage = False
    control.reply = Reply(text="one two three four five six", chunks=3)
    async with provider(base_url) as p:
        request = req()
        events = await collect(p, request)
        finish = events[-1]
        assert isinstance(finish, Finish) and finish.reason == "stop"
        assert finish.usage.input_tokens == p.count_tokens(request) > 0
        assert 3 <= finish.usage.output_tokens <= 10


async def test_non_streaming_reply_is_tolerated(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.ignore_stream = True
    control.reply = Reply(text="whole", tool_calls=[ToolCall("f", '{"a": 1}', "call_x")])
    async with provider(base_url) as p:
        events = await collect(p)
    assert text_of(events) == "whole"
    assert events[1] == ToolCallStart(0, "call_x", "f")
    assert events[2] == ToolCallDelta(0, '{"a": 1}')
    assert events[-1].reason == "tool_calls" and events[-1].usage.input_tokens == 12


async def test_parallel_tool_calls_assembled(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    args_a = '{"city": "Paris", "unit": "celsius"}'
    args_b = '{"city": "Tokyo", "unit": "fahrenheit"}'
    control.reply = Reply(tool_calls=[ToolCall("get_weather", args_a, "call_a"), ToolCall("get_time", args_b, "call_b")], arg_chunks=4)
    async with provider(base_url) as p:
        events = await collect(p)
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert starts == [ToolCallStart(0, "call_a", "get_weather"), ToolCallStart(1, "call_b", "get_time")]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(deltas) == 8  # streamed in fragments, passed on as fragments
    assert "".join(d.arguments for d in deltas if d.index == 0) == args_a
    assert "".join(d.arguments for d in deltas if d.index == 1) == args_b
    assert events.index(starts[1]) > events.index(deltas[3])  # each start precedes its fragments
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool_calls"


async def test_request_mapping(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    request = req(
        instructions="Be brief.",
        input=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
        ],
        tools=[{"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": True}],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        text_format={"type": "json_schema", "name": "answer", "schema": schema, "strict": True},
        max_output_tokens=256,
        temperature=0.2,
        top_p=0.9,
    )
    async with provider(base_url, api_key="sk-secret") as p:
        await collect(p, request)
    received = control.requests[-1]
    assert received.path == "/chat/completions"
    assert received.headers["authorization"] == "Bearer sk-secret"
    body = received.body
    assert body["model"] == "up-model"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ]
    assert body["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "description": "Weather", "strict": True}}
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
    assert body["max_tokens"] == 256 and "max_completion_tokens" not in body
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9


async def test_minimal_request_sends_no_tool_fields_and_no_auth(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    async with provider(base_url, api_key=None) as p:
        await collect(p)
    received = control.requests[-1]
    assert "authorization" not in received.headers
    for key in ("tools", "tool_choice", "parallel_tool_calls", "response_format", "max_tokens", "temperature", "top_p"):
        assert key not in received.body


async def test_assistant_text_then_call_is_one_message(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    request = req(
        input=[
            {"type": "message", "role": "user", "content": "Hi"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "1"},
            {"type": "function_call_output", "call_id": "c2", "output": "2"},
        ]
    )
    async with provider(base_url) as p:
        await collect(p, request)
    messages = control.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assert messages[1]["content"] == "Checking."
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]


async def test_429_twice_then_success_honours_retry_after(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(429, times=2, retry_after="0.2")
    async with provider(base_url, backoff_max=5.0) as p:
        start = time.monotonic()
        events = await collect(p)
        elapsed = time.monotonic() - start
    assert text_of(events) == "Hello from the fake upstream."
    assert len(control.requests) == 3
    assert elapsed >= 0.4  # waited as told, not the 0.01 s base backoff


async def test_retry_after_is_capped(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(429, times=1, retry_after="30")
    async with provider(base_url, backoff_max=0.1) as p:
        start = time.monotonic()
        await collect(p)
    assert time.monotonic() - start < 2


async def test_429_exhausted_is_rate_limit_error(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(429, times=10)
    async with provider(base_url, retries=2) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert (info.value.code, info.value.status) == ("rate_limit_exceeded", 429)
    assert len(control.requests) == 3


async def test_500_exhausted_is_502(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    retries = 3
    control.fail(500, times=retries + 1, body={"error": {"message": "engine exploded"}})
    async with provider(base_url, retries=retries) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert (info.value.code, info.value.status) == ("upstream_error", 502)
    assert "500" in info.value.message and "engine exploded" in info.value.message
    assert len(control.requests) == retries + 1


async def test_503_then_success(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(503, times=1)
    control.fail(502, times=1)
    async with provider(base_url) as p:
        events = await collect(p)
    assert isinstance(events[-1], Finish)
    assert len(control.requests) == 3


async def test_stall_is_upstream_timeout_after_retries(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.stall(10.0, times=5)
    async with provider(base_url, timeout=0.3, retries=1) as p:
        start = time.monotonic()
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert (info.value.code, info.value.status) == ("upstream_timeout", 504)
    assert len(control.requests) == 2
    assert time.monotonic() - start < 3


async def test_stall_once_then_success(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.stall(10.0, times=1)
    async with provider(base_url, timeout=0.3) as p:
        events = await collect(p)
    assert isinstance(events[-1], Finish)
    assert len(control.requests) == 2


async def test_stall_mid_stream_is_interrupted(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.stall(10.0, after_chunks=1)
    async with provider(base_url, timeout=0.3) as p:
        events: list[Any] = []
        with pytest.raises(ProviderError) as info:
            async for e in p.stream(req()):
                events.append(e)
    assert info.value.code == "upstream_stream_interrupted"
    assert len(events) == 1 and len(control.requests) == 1


async def test_400_is_not_retried(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.fail(400, body={"error": {"message": "temperature must be <= 2", "type": "invalid_request_error", "param": "temperature", "code": None}})
    async with provider(base_url) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert info.value.status == 400
    assert info.value.message == "temperature must be <= 2"
    assert info.value.param == "temperature"
    assert len(control.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "too long", "type": "invalid_request_error", "code": "context_length_exceeded"}},
        {"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.", "type": "BadRequestError", "code": 400},
        {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error"}},
    ],
)
async def test_context_length_errors(fake: tuple[str, Control], body: dict[str, Any]) -> None:
    base_url, control = fake
    control.fail(400, body=body)
    async with provider(base_url) as p:
        with pytest.raises(ContextWindowExceeded) as info:
            await collect(p)
    assert info.value.status == 400 and info.value.code == "context_length_exceeded"
    assert len(control.requests) == 1


async def test_cut_after_first_delta_is_interrupted_not_retried(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.cut(after_chunks=1)
    async with provider(base_url) as p:
        events: list[Any] = []
        with pytest.raises(ProviderError) as info:
            async for e in p.stream(req()):
                events.append(e)
    assert (info.value.code, info.value.status) == ("upstream_stream_interrupted", 502)
    assert events == [TextDelta("Hello fr")]
    assert len(control.requests) == 1


async def test_cut_before_any_delta_is_retried(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.cut(after_chunks=0)
    async with provider(base_url) as p:
        events = await collect(p)
    assert isinstance(events[-1], Finish)
    assert len(control.requests) == 2


async def test_invalid_chunk_mid_stream_is_interrupted(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.faults.append(Fault(garbage_after=2))
    async with provider(base_url) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert info.value.code == "upstream_stream_interrupted"
    assert len(control.requests) == 1


async def test_stream_ending_without_finish_is_interrupted(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.faults.append(Fault(end_after=2))
    async with provider(base_url) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert info.value.code == "upstream_stream_interrupted"


async def test_in_stream_error_chunk(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.reply = Reply(text="partial", error={"message": "engine died", "type": "InternalServerError", "code": 500})
    async with provider(base_url) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert info.value.code == "upstream_stream_interrupted" and "engine died" in info.value.message


async def test_finish_reason_length(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    control.reply = Reply(text="truncated", finish_reason="length")
    async with provider(base_url) as p:
        events = await collect(p)
    assert events[-1].reason == "length"


async def test_connection_refused_is_503_after_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with provider(f"http://127.0.0.1:{port}/v1", retries=2) as p:
        with pytest.raises(ProviderError) as info:
            await collect(p)
    assert (info.value.code, info.value.status) == ("upstream_unreachable", 503)
    assert "3 attempts" in info.value.message


async def test_connection_is_reused(fake: tuple[str, Control]) -> None:
    base_url, control = fake
    async with provider(base_url) as p:
        for _ in range(3):
            await collect(p)
    assert len({r.client_port for r in control.requests}) == 1


async def test_count_tokens() -> None:
    p = ChatCompletionsProvider("http://127.0.0.1:1/v1", None, "m")
    small = p.count_tokens(req())
    big = p.count_tokens(req(input=[{"role": "user", "content": "word " * 1000}]))
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "string", "description": "a long description " * 20}}}}]
    assert 0 < small < 20
    assert 1000 <= big < 1100
    assert p.count_tokens(req(tools=tools)) > small + 50
    huge = "x" * 1_200_000 + "<|endoftext|>"  # beyond the tokenizer's own input limits
    assert p.count_tokens(req(input=[{"role": "user", "content": huge}])) > 1000


def test_chunks_are_plain_json() -> None:
    # The fake's chunks are what real upstreams send (sanity check for the parser's input).
    from tests.fakes.upstream import chat_stream

    control = Control()
    events = chat_stream(Reply(text="ab", chunks=2), "m", control, include_usage=True)
    payloads = [line[6:] for _, raw in events for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    assert orjson.loads(payloads[-2])["usage"]["prompt_tokens"] == 12


async def _pieces(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def test_sse_parsing_across_odd_boundaries() -> None:
    raw = b'data: {"a":1}\r\n\r\n: comment\nevent: x\ndata: {"b":\ndata: 2}\n\ndata:[DONE]\n\ndata: {"tail":1}'
    for size in (1, 3, 7, len(raw)):
        got = [d async for d in iter_sse(_pieces([raw[i : i + size] for i in range(0, len(raw), size)]))]
        assert got == [b'{"a":1}', b'{"b":\n2}', b"[DONE]", b'{"tail":1}'], size


def _feed(chunks: list[dict[str, Any]]) -> list[Any]:
    parser = _ChatStream(lambda: 7)
    events: list[Any] = []
    for chunk in chunks:
        events += parser.feed(orjson.dumps(chunk))
    return events + ([] if parser.done else parser.end())


def test_tool_call_quirks() -> None:
    # No `index`, arguments as an object, the name arriving after the id, content as parts.
    events = _feed(
        [
            {"choices": [{"delta": {"content": [{"type": "text", "text": "ok "}]}}]},
            {"choices": [{"delta": {"tool_calls": [{"id": "c1", "function": {"arguments": ""}}]}}]},
            {"choices": [{"delta": {"tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}}]},
            {"choices": [{"delta": {}, "finish_reason": "stop"}]},
        ]
    )
    assert events[:3] == [TextDelta("ok "), ToolCallStart(0, "c1", "f"), ToolCallDelta(0, '{"x":1}')]
    assert events[3].reason == "tool_calls"  # "stop" after tool calls means tool_calls
    assert events[3].usage.input_tokens == 7  # estimated: no usage sent


def test_complete_calls_reusing_index_zero() -> None:
    # Some servers send several complete calls, each with index 0 and its own id.
    call = {"index": 0, "type": "function"}
    events = _feed(
        [
            {"choices": [{"delta": {"tool_calls": [{**call, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}}]},
            {"choices": [{"delta": {"tool_calls": [{**call, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}}]},
            {"choices": [{"delta": {}, "finish_reason": "function_call"}], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
        ]
    )
    assert [e for e in events if isinstance(e, ToolCallStart)] == [ToolCallStart(0, "a", "f"), ToolCallStart(1, "b", "g")]
    assert events[-1].reason == "tool_calls" and events[-1].usage.output_tokens == 4
