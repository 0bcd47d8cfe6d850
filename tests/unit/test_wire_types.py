"""What the engine emits validates against the `openai` package's own types."""

from __future__ import annotations

import orjson
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from onward.engine.events import LIFECYCLE_TYPES, ResponseBuilder, WireEvent, encode
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


def _sdk_dump(wire: dict) -> dict:
    """What the SDK's own type makes of the same event: validated, dumped as Onward used to."""
    return orjson.loads(STREAM_EVENT.validate_python(wire).model_dump_json(exclude_unset=True))


def test_plain_events_are_what_the_sdk_types_dump():
    # Text with log-probabilities and an annotation, then two function calls: every event the
    # builder makes as a plain dict equals the SDK model's dump of it, top-level keys in order.
    b = ResponseBuilder(_body() | {"tools": [{"type": "function", "name": "f", "parameters": {}}]})
    lp = {"token": "Hel", "bytes": [72, 101, 108], "logprob": -0.25, "top_logprobs": [{"token": "Hel", "bytes": [72, 101, 108], "logprob": -0.25}]}
    events = b.text_delta("Hel", [lp]) + b.text_delta("lo")
    events += b.close_message("completed", [{"type": "file_citation", "file_id": "file-1", "filename": "a.txt", "index": 5}])
    events += b.call_start(0, "call_1", "f") + b.call_delta(0, '{"a"') + b.call_delta(0, ": 1}")
    events += b.call_start(1, "", "g") + b.close_all()
    plain = [e for e in events if isinstance(e, WireEvent)]
    assert {e.type for e in plain} >= {
        "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.function_call_arguments.delta", "response.function_call_arguments.done",
    }
    for event in events:
        wire = orjson.loads(encode(event))
        assert wire == _sdk_dump(wire), wire["type"]
        if isinstance(event, WireEvent):
            assert list(wire) == list(STREAM_EVENT.validate_python(wire).model_dump(exclude_unset=True)), wire["type"]
            assert event.sequence_number == wire["sequence_number"]  # read like the SDK's models
    deltas = [orjson.loads(encode(e)) for e in events if e.type == "response.output_text.delta"]
    assert deltas[0]["logprobs"] == [{"token": "Hel", "logprob": -0.25, "top_logprobs": [{"token": "Hel", "logprob": -0.25}]}]
    assert deltas[1]["logprobs"] == []


def test_a_quiet_builder_keeps_the_object_and_builds_no_events():
    loud, quiet = ResponseBuilder(_body()), ResponseBuilder(_body(), quiet=True)
    for b in (loud, quiet):
        b.text_delta("Hi")
        b.call_start(0, "call_1", "f")
        b.call_delta(0, "{}")
    assert quiet.close_all() == [] and loud.close_all() != []
    strip = lambda out: [{k: v for k, v in item.items() if k != "id"} for item in out]  # noqa: E731
    assert strip(quiet.body["output"]) == strip(loud.body["output"])
    assert quiet.body["output"][1]["arguments"] == "{}" and quiet.body["output"][0]["content"][0]["text"] == "Hi"
