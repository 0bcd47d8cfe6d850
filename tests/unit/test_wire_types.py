"""What the engine emits validates against the `openai` package's own types."""

from __future__ import annotations

import orjson
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from onward.engine.events import LIFECYCLE_TYPES, ResponseBuilder, encode
from onward.engine.service import ResponsesService  # noqa: F401  (the module imports cleanly)

STREAM_EVENT = TypeAdapter(ResponseStreamEvent)


def _body() -> dict:
    return {
        "id": "resp_test", "object": "response", "created_at": 1700000000, "completed_at": None, "status": "in_progress",
        "background": False, "error": None, "incomplete_details": None, "instructions": None, "max_output_tokens": None,
        "max_tool_calls": None, "model": "m", "output": [], "parallel_tool_calls": True, "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None}, "store": True, "temperature": 1.0, "top_p": 1.0,
        "presence_penalty": 0.0, "frequency_penalty": 0.0, "top_logprobs": 0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto", "tools": [],
        "truncation": "disabled", "usage": None, "user": None, "metadata": {}, "service_tier": "default",
        "safety_identifier": None, "prompt_cache_key": None, "conversation": None,
    }


def test_every_event_of_a_turn_parses_as_the_sdk_type():
    b = ResponseBuilder(_body())
    events = [b.lifecycle("response.created"), b.lifecycle("response.in_progress")]
    events += b.text_delta("Hel") + b.text_delta("lo")
    events += b.call_start(0, "call_1", "f") + b.call_delta(0, '{"a"') + b.call_delta(0, ": 1}")
    item, evs = b.file_search_start(["q"])
    events += evs + b.file_search_done(item, [])
    events += b.close_all()
    b.body["usage"] = {"input_tokens": 1, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}, "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 3}
    b.set_status("completed")
    events.append(b.lifecycle("response.completed"))
    for n, event in enumerate(events):
        wire = orjson.loads(encode(event))
        parsed = STREAM_EVENT.validate_python(wire)
        assert parsed.type == wire["type"] and wire["sequence_number"] == n
        if wire["type"] in LIFECYCLE_TYPES:
            assert isinstance(wire["response"]["created_at"], int)  # OpenAI sends integers
            Response.model_validate(wire["response"])
    final = orjson.loads(encode(events[-1]))["response"]
    assert [o["type"] for o in final["output"]] == ["message", "function_call", "file_search_call"]
    assert final["output"][1]["arguments"] == '{"a": 1}'
