"""Several `onward serve` processes on one PostgreSQL database: a background response made by
one is streamed live from another, and chains continue across processes. The same between
the processes of one `onward serve --workers 2` (each request is pinned to a chosen process,
and the access log's pid proves which one served it)."""

from __future__ import annotations

import pytest

from tests.conftest import SCRIPT, Server

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the Assistants API
WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def test_stream_a_background_response_from_another_process(tmp_path, pg_database):
    toml = 'default = "scripted"\n' + SCRIPT
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(tmp_path / "a", pg_database, toml)
    b = Server(tmp_path / "b", pg_database, toml)
    a.start()
    b.start()
    try:
        made = a.client().responses.create(model="scripted", input="say it slowly", background=True)
        events = list(b.client().responses.retrieve(made.id, stream=True, starting_after=1))
        assert events[0].sequence_number == 2 and events[-1].type == "response.completed"
        assert [e.sequence_number for e in events] == list(range(2, 2 + len(events)))
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == events[-1].response.output_text
        # a chain started on one process continues on the other
        r1 = a.client().responses.create(model="scripted", input="hi")
        r2 = b.client().responses.create(model="scripted", input="again", previous_response_id=r1.id)
        assert r2.status == "completed" and r2.usage.input_tokens > r1.usage.input_tokens
    finally:
        a.stop()
        b.stop()


# -- one `onward serve --workers 2`: the same guarantees between its processes -----------------
@pytest.fixture(scope="module")
def workers2(tmp_path_factory, pg_database):
    tmp = tmp_path_factory.mktemp("workers")
    srv = Server(tmp, pg_database, 'default = "scripted"\n' + SCRIPT, workers=2).start()
    yield srv
    srv.stop()


def test_workers_serve_one_port_with_one_ready_line(workers2):
    a, b = workers2.worker_pids()
    assert workers2.log_text().count("Onward ready") == 1 and "2 processes" in workers2.log_text()
    # each process answers on the same port, and the access log says which one did
    for pid in (a, b):
        raw = workers2.client_on(pid).responses.with_raw_response.create(model="scripted", input="hi")
        assert raw.parse().output_text == "Hello from the script."
        assert workers2.served_by(raw.headers["x-request-id"]) == pid


def test_background_response_streamed_and_cancelled_from_the_other_worker(workers2):
    a, b = workers2.worker_pids()
    on_a = workers2.client_on(a)
    made = on_a.responses.create(model="scripted", input="say it slowly", background=True)  # runs on a
    on_b = workers2.client_on(b)
    stream = on_b.responses.retrieve(made.id, stream=True, starting_after=1)
    events = list(stream)
    assert workers2.served_by(stream.response.headers["x-request-id"]) == b
    assert events[0].sequence_number == 2 and events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(2, 2 + len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == events[-1].response.output_text
    # a cancel taken by b stops the job running on a
    on_a = workers2.client_on(a)
    slow = on_a.responses.create(model="scripted", input="say it slowly", background=True)
    on_b = workers2.client_on(b)
    cancelled = on_b.responses.cancel(slow.id)
    assert cancelled.status == "cancelled"
    assert on_b.responses.retrieve(slow.id).status == "cancelled"


def test_assistants_run_across_workers(workers2):
    a, b = workers2.worker_pids()
    on_a = workers2.client_on(a)
    asst = on_a.beta.assistants.create(model="scripted", tools=WEATHER)
    thread = on_a.beta.threads.create(messages=[{"role": "user", "content": "what is the weather in Paris?"}])
    run = on_a.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    on_b = workers2.client_on(b)
    done = on_b.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "22C"}])
    assert done.status == "completed"
    on_a = workers2.client_on(a)
    last = on_a.beta.threads.messages.list(thread.id, order="desc", limit=1).data[0]
    assert last.content[0].text.value == "It is 22C in Paris."


def test_metrics_count_every_worker(workers2):
    """/metrics sums the processes, whichever one answers the scrape."""
    import re

    import openai

    a, b = workers2.worker_pids()
    for pid, times in ((a, 2), (b, 3)):
        client = workers2.client_on(pid)
        for _ in range(times):
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve("resp_metrics_probe")
    line = 'onward_http_requests_total{method="GET",route="/v1/responses/{response_id}",status="404"}'
    for pid in (a, b):
        text = workers2.http_on(pid).get(f"{workers2.url[:-3]}/metrics").text
        assert re.search(re.escape(line) + r" 5\.0$", text, re.M), [t for t in text.splitlines() if "404" in t]
