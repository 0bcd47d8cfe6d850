"""Cancelling Assistants runs exactly (issue 8): create-then-cancel at once, 50 times in a row,
on both databases, with the scripted model and the real one; a streamed cancel seen through
an AssistantEventHandler and as raw SSE; a partial message kept `incomplete`; and a run killed
(kill -9) mid-stream ending `failed` with its partial message and step kept, its thread free."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from openai import AssistantEventHandler

from tests.conftest import SCRIPT, Server

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SLOW_TEXT = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"
ACTIVE = ("queued", "in_progress", "cancelling")


def settled(client, thread_id, run_id, timeout=30.0):
    """The run once it left queued/in_progress/cancelling (a generous bound: never a timing
    assertion, only a hang detector)."""
    deadline = time.time() + timeout
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    while run.status in ACTIVE and time.time() < deadline:
        time.sleep(0.05)
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status not in ACTIVE, f"{run_id} stayed {run.status}"
    return run


def check_others(client, thread_id):
    """Unrelated calls answer 2xx while runs are created and cancelled (the SDK raises on any
    other answer): a new thread with a message, its messages, the busy thread's runs."""
    other = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    client.beta.threads.messages.create(other.id, role="user", content="still there?")
    assert len(client.beta.threads.messages.list(other.id).data) == 2
    client.beta.threads.runs.list(thread_id=thread_id, limit=5)
    client.beta.threads.retrieve(thread_id)


def check_run_end(client, thread_id, run, answer):
    """The exact rules: a cancel answered `cancelled` or `cancelling` ends the run `cancelled`
    (also when the model had finished meanwhile); a 400 means the run had ended before the
    cancel was recorded, and it stays as it ended. Nothing stays open."""
    final = settled(client, thread_id, run.id)
    if answer in ("cancelled", "cancelling"):
        assert final.status == "cancelled" and final.cancelled_at and final.expires_at is None, final
    else:
        assert final.status == answer
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread_id).data
    assert all(s.status != "in_progress" for s in steps)
    for msg in client.beta.threads.messages.list(thread_id, run_id=run.id).data:
        if msg.status == "incomplete":
            assert final.status == "cancelled" and msg.incomplete_details.reason == "run_cancelled" and msg.incomplete_at
        else:
            assert msg.status == "completed"
    return final


def cancel_at_once(client, thread_id, assistant_id, rounds, prompt):
    answers: dict[str, int] = {}
    runs = []
    for _ in range(rounds):
        run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id, additional_messages=[{"role": "user", "content": prompt}])
        assert run.status == "queued"
        try:
            answer = client.beta.threads.runs.cancel(run_id=run.id, thread_id=thread_id).status
            assert answer in ("cancelled", "cancelling")
        except openai.BadRequestError as exc:  # it had ended before the cancel was recorded
            answer = exc.body["message"].split("'")[1]
            assert exc.body["message"] == f"Cannot cancel run with status '{answer}'."
        answers[answer] = answers.get(answer, 0) + 1
        check_run_end(client, thread_id, run, answer)  # ended before the next run may start
        runs.append((run, answer))
        check_others(client, thread_id)
    for run, answer in runs:  # final: nothing changed afterwards
        again = client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
        assert again.status == ("cancelled" if answer in ("cancelled", "cancelling") else answer)
    return answers


def test_create_then_cancel_50_times_scripted(server):
    client = server.client()
    asst = client.beta.assistants.create(model="scripted")
    thread = client.beta.threads.create()
    answers = cancel_at_once(client, thread.id, asst.id, 50, "say it slowly")
    assert set(answers) <= {"cancelled", "cancelling"}, answers  # the slow script cannot finish first
    done = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, additional_messages=[{"role": "user", "content": "hi"}])
    assert done.status == "completed"  # the thread is free and still runs


def test_create_then_cancel_50_times_real_model(server):
    client = server.client()
    asst = client.beta.assistants.create(model="smollm2", instructions="Answer in one short sentence.")
    thread = client.beta.threads.create()
    cancel_at_once(client, thread.id, asst.id, 50, "Name a color.")
    done = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, max_completion_tokens=16)
    assert done.status in ("completed", "incomplete")


def test_cancel_waiting_for_tool_outputs_is_immediate(server):
    client = server.client()
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    asst = client.beta.assistants.create(model="scripted", tools=tools)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"
    cancelled = client.beta.threads.runs.cancel(run_id=run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled" and cancelled.required_action is None
    with pytest.raises(openai.BadRequestError) as err:  # final
        client.beta.threads.runs.cancel(run_id=run.id, thread_id=thread.id)
    assert err.value.body["message"] == "Cannot cancel run with status 'cancelled'."
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.submit_tool_outputs(run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "x", "output": "1"}])


class Canceller(AssistantEventHandler):
    """Cancels the run (through a second client) at the first text delta; records the rest."""

    def __init__(self, client, thread_id) -> None:
        super().__init__()
        self.client, self.thread_id = client, thread_id
        self.events: list[str] = []
        self.text: list[str] = []
        self.answer = None
        self.done: list = []

    def on_event(self, event) -> None:
        self.events.append(event.event)

    def on_text_delta(self, delta, snapshot) -> None:
        self.text.append(delta.value)
        if self.answer is None:
            self.answer = self.client.beta.threads.runs.cancel(run_id=self.current_run.id, thread_id=self.thread_id)

    def on_message_done(self, message) -> None:
        self.done.append(message)


def test_streamed_cancel_keeps_the_partial_message(server):
    client = server.client()
    asst = client.beta.assistants.create(model="scripted")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "say it slowly"}])
    handler = Canceller(server.client(), thread.id)
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=asst.id, event_handler=handler) as stream:
        stream.until_done()
    assert handler.answer.status in ("cancelled", "cancelling")
    ev = handler.events
    assert ev[-1] == "thread.run.cancelled" and "thread.run.cancelling" in ev
    assert ev.index("thread.run.cancelling") < ev.index("thread.message.incomplete") < ev.index("thread.run.step.cancelled") < ev.index("thread.run.cancelled")
    assert "thread.message.completed" not in ev and "thread.run.completed" not in ev
    streamed = "".join(handler.text)
    assert streamed and SLOW_TEXT.startswith(streamed) and streamed != SLOW_TEXT
    [seen] = handler.done  # the SDK's snapshot of the incomplete message
    assert seen.status == "incomplete" and seen.content[0].text.value == streamed
    run = client.beta.threads.runs.retrieve(handler.current_run.id, thread_id=thread.id)
    assert run.status == "cancelled" and run.cancelled_at
    kept = client.beta.threads.messages.list(thread.id, order="asc").data
    assert [m.role for m in kept] == ["user", "assistant"]
    msg = kept[1]
    assert msg.status == "incomplete" and msg.incomplete_details.reason == "run_cancelled" and msg.incomplete_at and msg.completed_at is None
    assert msg.content[0].text.value == streamed and msg.run_id == run.id and msg.assistant_id == asst.id
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0]
    assert step.type == "message_creation" and step.status == "cancelled" and step.cancelled_at
    assert step.step_details.message_creation.message_id == msg.id
    # the thread takes a new run at once, on top of the kept message
    again = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert again.status == "completed"
    assert [m.status for m in client.beta.threads.messages.list(thread.id, order="asc").data] == ["completed", "incomplete", "completed"]


def test_streamed_cancel_raw_sse(server):
    """The same over plain HTTP: the frames after the cancel, then `done`."""
    client = server.client()
    asst = client.beta.assistants.create(model="scripted")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "say it slowly"}])
    names: list[str] = []
    headers = {"Authorization": "Bearer sk-test", "OpenAI-Beta": "assistants=v2"}
    with httpx.stream("POST", f"{server.url}/threads/{thread.id}/runs", json={"assistant_id": asst.id, "stream": True}, headers=headers, timeout=60) as r:
        assert r.status_code == 200
        run_id = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                names.append(line[7:])
            elif line.startswith("data: ") and names[-1] == "thread.run.created":
                run_id = line.split('"id":"', 1)[1].split('"', 1)[0]
            if names and names[-1] == "thread.message.delta" and names.count("thread.message.delta") == 1 and line.startswith("data: "):
                answer = httpx.post(f"{server.url}/threads/{thread.id}/runs/{run_id}/cancel", headers=headers, timeout=30)
                assert answer.status_code == 200 and answer.json()["status"] in ("cancelled", "cancelling")
    tail = names[names.index("thread.run.cancelling"):]
    assert tail == ["thread.run.cancelling", "thread.message.incomplete", "thread.run.step.cancelled", "thread.run.cancelled", "done"], names


def test_cancel_real_model_mid_stream(server):
    """On the real model: a long answer cancelled at its first token keeps what was written."""
    client = server.client()
    asst = client.beta.assistants.create(model="smollm2")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Write a long story about a dragon and a knight, with many details."}])
    handler = Canceller(server.client(), thread.id)
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=asst.id, event_handler=handler) as stream:
        stream.until_done()
    run = settled(client, thread.id, handler.current_run.id)
    if handler.answer is not None and handler.answer.status in ("cancelled", "cancelling"):
        assert run.status == "cancelled" and handler.events[-1] == "thread.run.cancelled" and "thread.run.cancelling" in handler.events
        msg = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
        assert msg.status == "incomplete" and msg.incomplete_details.reason == "run_cancelled"
        assert msg.content[0].text.value == "".join(handler.text)
    else:  # the model finished before the cancel was recorded (the cancel got a 400)
        assert run.status in ("completed", "incomplete")
    assert client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, max_completion_tokens=8).status in ("completed", "incomplete")


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    return f"sqlite:///{tmp_path / 'onward.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")


def test_kill_mid_run_keeps_the_partial_message_and_frees_the_thread(tmp_path, database):
    toml = 'default = "scripted"\n' + SCRIPT
    srv = Server(tmp_path, database, toml).start()
    try:
        client = srv.client()
        asst = client.beta.assistants.create(model="scripted")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "say it slowly"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
        deadline = time.time() + 30
        while time.time() < deadline:  # its step is stored while it runs: wait for some text
            steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
            if steps and time.time() - steps[0].created_at >= 1:
                break
            time.sleep(0.1)
        assert steps and steps[0].status == "in_progress"
        srv.kill()
        srv.start()
        client = srv.client()
        ended = settled(client, thread.id, run.id)
        assert ended.status == "failed" and ended.last_error.code == "server_error" and "stopped" in ended.last_error.message
        kept = client.beta.threads.messages.list(thread.id, order="asc").data
        assert [m.role for m in kept] == ["user", "assistant"]
        msg = kept[1]
        assert msg.status == "incomplete" and msg.incomplete_details.reason == "run_failed" and msg.run_id == run.id
        text = msg.content[0].text.value
        assert text and SLOW_TEXT.startswith(text) and text != SLOW_TEXT
        [step] = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
        assert step.status == "failed" and step.last_error.code == "server_error"
        assert step.step_details.message_creation.message_id == msg.id
        client.beta.threads.messages.create(thread.id, role="user", content="hello again")  # the thread is free
        again = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
        assert again.status == "completed"
    finally:
        srv.stop()


def test_cancel_from_another_process(tmp_path, pg_database):
    """Two processes on one PostgreSQL: a run executing in A, cancelled through B, ends
    `cancelled` (A's worker sees the recorded cancel) and keeps its partial message."""
    toml = 'default = "scripted"\n' + SCRIPT
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = Server(tmp_path / "a", pg_database, toml).start(), Server(tmp_path / "b", pg_database, toml).start()
    try:
        ca, cb = a.client(), b.client()
        asst = ca.beta.assistants.create(model="scripted")
        thread = ca.beta.threads.create(messages=[{"role": "user", "content": "say it slowly"}])
        run = ca.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
        deadline = time.time() + 30
        while not cb.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data and time.time() < deadline:
            time.sleep(0.1)
        answer = cb.beta.threads.runs.cancel(run_id=run.id, thread_id=thread.id)
        assert answer.status in ("cancelled", "cancelling")
        final = settled(cb, thread.id, run.id)
        assert final.status == "cancelled" and final.cancelled_at
        [step] = ca.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
        assert step.status == "cancelled"
        kept = cb.beta.threads.messages.list(thread.id, run_id=run.id).data
        assert all(m.status == "incomplete" and m.incomplete_details.reason == "run_cancelled" for m in kept)
        again = cb.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
        assert again.status == "completed"
    finally:
        a.stop()
        b.stop()


SLOWER = f"""default = "scripted"
[models.scripted]
provider = "scripted"
script = [{{ match = "slowly", text = "{SLOW_TEXT}", delay = 0.5 }}, {{ text = "Hello from the script." }}]
"""


def test_running_run_expires_keeping_its_partial_message(tmp_path, database):
    """A run still writing when it expires stops at its worker's next step: `expired`, its
    partial message kept (`run_expired`), its step `expired`, the thread free."""
    srv = Server(tmp_path, database, SLOWER, env={"ONWARD_RUN_EXPIRY_SECONDS": "2"}).start()
    try:
        client = srv.client()
        asst = client.beta.assistants.create(model="scripted")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "say it slowly"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
        ended = settled(client, thread.id, run.id)
        assert ended.status == "expired" and ended.expires_at is None
        [msg] = client.beta.threads.messages.list(thread.id, run_id=run.id).data
        assert msg.status == "incomplete" and msg.incomplete_details.reason == "run_expired"
        assert SLOW_TEXT.startswith(msg.content[0].text.value) and msg.content[0].text.value != SLOW_TEXT
        [step] = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
        assert step.status == "expired" and step.expired_at
        client.beta.threads.messages.create(thread.id, role="user", content="hi")
        assert client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id).status == "completed"
    finally:
        srv.stop()
