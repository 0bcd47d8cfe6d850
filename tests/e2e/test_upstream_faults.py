"""Upstream faults through a live server: retries before the first token, a clean
`response.failed` after it, errors the SDK understands (HTTP statuses: test_http_errors.py)."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import SCRIPT, Server
from tests.fakes import Reply, ToolCall, start_fake_upstream


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    base_url, control = start_fake_upstream()
    tmp = tmp_path_factory.mktemp("faults")
    toml = (
        'default = "faulty"\n' + SCRIPT + f'\n[models.faulty]\nprovider = "chat_completions"\nbase_url = "{base_url}"\n'
        'upstream_model = "fake-model"\nretries = 2\nbackoff_base = 0.05\ntimeout = 1.5\n'
        f'\n[models.responses_up]\nprovider = "openai_responses"\nbase_url = "{base_url}"\nupstream_model = "fake-model"\nretries = 2\nbackoff_base = 0.05\ntimeout = 1.5\n'
    )
    srv = Server(tmp, f"sqlite:///{tmp / 'o.db'}", toml).start()
    yield srv, control
    srv.stop()
    control.close()


@pytest.fixture(autouse=True)
def _reset(faulty):
    faulty[1].reset()


def test_text_and_usage_through_upstream(faulty):
    srv, control = faulty
    control.reply = Reply(text="Hello from upstream.", chunks=3, prompt_tokens=17)
    resp = srv.client().responses.create(model="faulty", input="hi", max_output_tokens=50, temperature=0.5)
    assert resp.output_text == "Hello from upstream." and resp.usage.input_tokens == 17
    sent = control.requests[-1].body
    assert sent["model"] == "fake-model" and sent["max_tokens"] == 50 and sent["temperature"] == 0.5
    assert sent["messages"][-1] == {"role": "user", "content": "hi"}


def test_tool_call_and_response_format_mapping(faulty):
    srv, control = faulty
    control.reply = Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')])
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    resp = srv.client().responses.create(model="faulty", input="weather?", tools=tools, tool_choice={"type": "function", "name": "get_weather"})
    call = resp.output[0]
    assert call.type == "function_call" and call.arguments == '{"city": "Paris"}'
    sent = control.requests[-1].body
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_429_then_success_is_retried(faulty):
    srv, control = faulty
    control.reply = Reply(text="after retries")
    control.fail(429, times=2, retry_after="0")
    resp = srv.client().responses.create(model="faulty", input="hi")
    assert resp.output_text == "after retries"
    assert len(control.requests) == 3


def test_500_exhausts_retries_into_an_http_error(faulty):
    srv, control = faulty
    control.fail(500, times=10)
    with pytest.raises(openai.InternalServerError) as err:  # more faults: tests/e2e/test_http_errors.py
        srv.client().responses.create(model="faulty", input="hi")
    assert err.value.status_code == 502 and err.value.code == "upstream_error"
    assert len(control.requests) == 3  # 1 + 2 retries


def test_stream_cut_midway_is_response_failed(faulty):
    srv, control = faulty
    control.reply = Reply(text="one two three four five six", chunks=6)
    control.cut(after_chunks=2)
    with srv.client().responses.stream(model="faulty", input="hi") as stream:
        events = list(stream)
    assert any(e.type == "response.output_text.delta" for e in events)
    assert events[-1].type == "response.failed"
    assert "[upstream_stream_interrupted]" in events[-1].response.error.message
    assert len(control.requests) == 1  # never retried after the first token
    stored = srv.client().responses.retrieve(events[-1].response.id)
    assert stored.status == "failed"


def test_openai_responses_passthrough(faulty):
    srv, control = faulty
    control.reply = Reply(text="From the responses upstream.", chunks=2)
    client = srv.client()
    r1 = client.responses.create(model="responses_up", input="hi")
    assert r1.output_text == "From the responses upstream."
    assert control.requests[-1].path.endswith("/responses")
    assert control.requests[-1].body["store"] is False  # state stays in Onward
    r2 = client.responses.create(model="responses_up", input="again", previous_response_id=r1.id)
    assert r2.status == "completed"
    sent = control.requests[-1].body["input"]
    assert len(sent) == 3  # the first turn's input and output, then the new input


def test_client_sdk_errors_are_clean(faulty):
    srv, _ = faulty
    with pytest.raises(openai.BadRequestError) as err:
        srv.client().responses.create(model="faulty", input=[{"type": "bogus"}])
    assert err.value.param == "input[0].type"
