"""A crashed background response keeps what its worker produced: the output rebuilt from the
stored events equals the worker's own copy, unfinished items marked `incomplete`."""

from __future__ import annotations

import copy

from onward.engine.events import ResponseBuilder, encode
from onward.engine.replay import partial_output


def _body() -> dict:
    return {"id": "resp_x", "object": "response", "status": "in_progress", "output": []}


def test_unfinished_message_and_call_are_rebuilt_incomplete():
    builder = ResponseBuilder(_body())
    events = []
    for word in ["Hello", " there", ", friend"]:
        events += builder.text_delta(word)
    events += builder.close_message("completed")
    events += builder.call_start(0, "call_1", "get_weather")
    events += builder.call_delta(0, '{"city": ')
    events += builder.call_delta(0, '"Par')
    events += builder.text_delta("And then")  # a second message, cut mid-way
    stored = [encode(e).decode() for e in events]

    output = partial_output(stored)
    finished = copy.deepcopy(builder.body["output"][0])
    assert [i["type"] for i in output] == ["message", "function_call", "message"]
    assert output[0] == finished and output[0]["status"] == "completed"
    assert output[0]["content"][0]["text"] == "Hello there, friend"
    assert output[1]["arguments"] == '{"city": "Par' and output[1]["status"] == "incomplete"
    assert output[2]["content"][0]["text"] == "And then" and output[2]["status"] == "incomplete"


def test_nothing_stored_nothing_kept():
    assert partial_output([]) == []
