"""Assistants streaming through the SDK's own helpers: `runs.stream` with an
AssistantEventHandler, create-and-run streams, and a streamed submit_tool_outputs that
carries on to completion."""

from __future__ import annotations

import httpx
import pytest
from openai import AssistantEventHandler

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]

TEXT_ORDER = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
]


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.events: list[str] = []
        self.text: list[str] = []
        self.tool_args: dict[str, str] = {}
        self.done_calls: list = []

    def on_event(self, event) -> None:
        self.events.append(event.event)

    def on_run_step_created(self, run_step) -> None:
        self.calls.append(f"step_created:{run_step.type}")

    def on_run_step_delta(self, delta, snapshot) -> None:
        self.calls.append("step_delta")

    def on_run_step_done(self, run_step) -> None:
        self.calls.append(f"step_done:{run_step.type}:{run_step.status}")
        self.last_step = run_step

    def on_message_created(self, message) -> None:
        self.calls.append("message_created")

    def on_message_delta(self, delta, snapshot) -> None:
        self.calls.append("message_delta")

    def on_message_done(self, message) -> None:
        self.calls.append(f"message_done:{message.status}")

    def on_text_created(self, text) -> None:
        self.calls.append("text_created")

    def on_text_delta(self, delta, snapshot) -> None:
        self.text.append(delta.value)

    def on_text_done(self, text) -> None:
        self.calls.append(f"text_done:{text.value}")

    def on_tool_call_created(self, tool_call) -> None:
        self.calls.append(f"tool_created:{tool_call.function.name}")

    def on_tool_call_delta(self, delta, snapshot) -> None:
        self.tool_args[snapshot.id] = snapshot.function.arguments

    def on_tool_call_done(self, tool_call) -> None:
        self.done_calls.append(tool_call)

    def on_end(self) -> None:
        self.calls.append("end")


def _dedupe(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        if not out or out[-1] != n:
            out.append(n)
    return out


def test_stream_text_with_handler(server):
    client = server.client()
    asst = client.beta.assistants.create(model="scripted")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=asst.id, event_handler=handler) as stream:
        stream.until_done()
    assert _dedupe(handler.events) == TEXT_ORDER + [
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    assert "".join(handler.text) == "Hello from the script."
    assert handler.calls[:3] == ["step_created:message_creation", "message_created", "text_created"]
    assert handler.calls[-4:] == ["text_done:Hello from the script.", "message_done:completed", "step_done:message_creation:completed", "end"]
    run = handler.get_final_run()
    assert run.status == "completed" and run.usage.total_tokens > 0
    assert handler.last_step.usage.total_tokens == run.usage.total_tokens
    messages = handler.get_final_messages()
    assert messages[0].content[0].text.value == "Hello from the script."
    stored = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    assert stored.id == messages[0].id


def test_stream_tool_calls_then_streamed_submit(server):
    client = server.client()
    asst = client.beta.assistants.create(model="scripted", tools=WEATHER)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather in both cities"}])
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=asst.id, event_handler=handler) as stream:
        stream.until_done()
    names = _dedupe(handler.events)
    assert names[:5] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created", "thread.run.step.in_progress"]
    assert names[5:] == ["thread.run.step.delta", "thread.run.requires_action"]
    assert [c for c in handler.calls if c.startswith("tool_created")] == ["tool_created:get_weather", "tool_created:get_weather"]
    run = handler.get_final_run()
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [handler.tool_args[c.id] for c in calls] == ['{"city":"Paris"}', '{"city":"Oslo"}']
    assert len(handler.done_calls) == 2
    after = Recorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": c.id, "output": "22C"} for c in calls], event_handler=after
    ) as stream:
        stream.until_done()
    assert _dedupe(after.events)[:3] == ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress"]
    assert after.events[-1] == "thread.run.completed"
    assert "".join(after.text) == "It is 22C in Paris."
    assert after.get_final_run().status == "completed"


def test_create_and_run_stream(server):
    client = server.client()
    asst = client.beta.assistants.create(model="scripted")
    handler = Recorder()
    with client.beta.threads.create_and_run_stream(assistant_id=asst.id, thread={"messages": [{"role": "user", "content": "hello"}]}, event_handler=handler) as stream:
        stream.until_done()
    assert handler.events[0] == "thread.created"
    assert _dedupe(handler.events)[1:8] == TEXT_ORDER
    assert handler.events[-1] == "thread.run.completed"


def test_raw_sse_framing_and_failure(server):
    client = server.client()
    asst = client.beta.assistants.create(model="scripted")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "upstream down"}])
    chunks = []
    with httpx.stream("POST", f"{server.url}/threads/{thread.id}/runs", json={"assistant_id": asst.id, "stream": True}, headers={"OpenAI-Beta": "assistants=v2"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for chunk in r.iter_raw():
            chunks.append(chunk)
    body = b"".join(chunks).decode()
    events = [line[7:] for line in body.splitlines() if line.startswith("event: ")]
    assert events[-2:] == ["thread.run.failed", "done"] and body.endswith("event: done\ndata: [DONE]\n\n")
    assert all(c.endswith(b"\n\n") for c in chunks)  # one event per chunk
    run = client.beta.threads.runs.list(thread.id).data[0]
    assert run.status == "failed" and run.last_error.code == "server_error"


def test_stream_embedded_model(server):
    client = server.client()
    asst = client.beta.assistants.create(model="smollm2")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hi."}])
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=asst.id, event_handler=handler, max_completion_tokens=12) as stream:
        stream.until_done()
    assert handler.get_final_run().status in ("completed", "incomplete")
    assert handler.text and handler.events[-1] in ("thread.run.completed", "thread.run.incomplete")


def test_error_events_raise_in_the_sdk():
    """`event: error` carries the nested `error` the SDK raises on (and the flat fields)."""
    import httpx2
    import openai
    from openai import OpenAI, Stream
    from openai.types.beta import AssistantStreamEvent

    from onward.assistants.hub import DONE, error_frame

    client = OpenAI(api_key="x", base_url="http://127.0.0.1:9/v1")
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/threads/runs")
    body = error_frame("server_error", "boom") + DONE
    response = httpx2.Response(200, content=body, request=request, headers={"content-type": "text/event-stream"})
    with pytest.raises(openai.APIError) as err:
        list(Stream(cast_to=AssistantStreamEvent, response=response, client=client))
    assert err.value.message == "boom" and err.value.body["code"] == "server_error"
