"""A non-streamed foreground request whose model fails before any output answers with an HTTP
error in OpenAI's envelope, so the SDK's own retries apply; streams, background responses and
Assistants runs keep reporting `failed`. Through a live server (SQLite and PostgreSQL) and a
fault-injecting fake upstream."""

from __future__ import annotations

import socket
import time
import uuid

import openai
import pytest

from tests.conftest import PG_URL, Server
from tests.fakes import Reply, start_fake_upstream

KEY_VAR = "ONWARD_TEST_UPSTREAM_KEY"
UNSET_VAR = "ONWARD_TEST_NEVER_SET_KEY"


@pytest.fixture(scope="module")
def fake():
    base_url, control = start_fake_upstream()
    yield base_url, control
    control.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml(base_url: str) -> str:
    fast = "retries = 2\nbackoff_base = 0.05\ntimeout = 5\n"
    return (
        'default = "faulty"\n'
        f'[models.faulty]\nprovider = "chat_completions"\nbase_url = "{base_url}"\nupstream_model = "fake-model"\n{fast}'
        f'[models.slow]\nprovider = "chat_completions"\nbase_url = "{base_url}"\nretries = 0\ntimeout = 1\n'
        f'[models.nowhere]\nprovider = "chat_completions"\nbase_url = "http://127.0.0.1:{_closed_port()}/v1"\nretries = 0\n'
        f'[models.keyed]\nprovider = "chat_completions"\nbase_url = "{base_url}"\napi_key = "env:{KEY_VAR}"\nretries = 0\n'
        f'[models.unkeyed]\nprovider = "chat_completions"\nbase_url = "{base_url}"\napi_key = "env:{UNSET_VAR}"\nretries = 0\n'
        f'[models.no_logprobs]\nprovider = "chat_completions"\nbase_url = "{base_url}"\nlogprobs = false\n'
        f'[models.responses_up]\nprovider = "openai_responses"\nbase_url = "{base_url}"\nupstream_model = "fake-model"\n{fast}'
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def srv(request, fake, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"http-errors-{request.param}")
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'o.db'}"
    else:  # a database of its own: no other server's worker may claim these responses
        import psycopg

        pg_name = f"onward_http_errors_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = PG_URL.rsplit("/", 1)[0] + "/" + pg_name
    server = Server(tmp, url, _toml(fake[0]), env={KEY_VAR: "sk-upstream-123"}).start()
    yield server
    server.stop()
    if pg_name:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def control(fake):
    fake[1].reset()
    return fake[1]


def test_rate_limit_is_429_with_retry_after_and_the_sdk_retries(srv, control):
    client = srv.client()  # max_retries=0
    conv = client.conversations.create()
    control.fail(429, times=3, retry_after="1")  # Onward's own 1 + 2 retries all hit it
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="faulty", input="hi", conversation=conv.id)
    e = err.value
    assert e.status_code == 429 and e.code == "rate_limit_exceeded" and e.type == "rate_limit_error"
    assert e.response.headers["retry-after"] == "1" and e.response.headers["retry-after-ms"] == "1000"
    assert "HTTP 429" in e.message and len(control.requests) == 3
    # No response was made: the conversation got nothing and is free for the next turn.
    assert client.conversations.items.list(conv.id).data == []
    control.reply = Reply(text="second try")
    # The upstream's 429 paused the route for its Retry-After (engine/ratelimit.py): the SDK's
    # retries wait it out.
    resp = srv.client(max_retries=3).responses.create(model="faulty", input="hi again", conversation=conv.id)
    assert resp.output_text == "second try"
    assert len(client.conversations.items.list(conv.id).data) == 2

    # The SDK's default retries (it honours Retry-After) turn the same fault into a success.
    control.reset()
    control.reply = Reply(text="after the SDK retried")
    control.fail(429, times=3, retry_after="1")
    resp = srv.client(max_retries=2).responses.create(model="faulty", input="hi")
    assert resp.status == "completed" and resp.output_text == "after the SDK retried"
    assert len(control.requests) == 4
    assert client.responses.retrieve(resp.id).output_text == "after the SDK retried"


def test_failing_unreachable_and_slow_upstreams(srv, control):
    client = srv.client()
    control.fail(500, times=3)
    with pytest.raises(openai.InternalServerError) as err:
        client.responses.create(model="faulty", input="hi")
    assert err.value.status_code == 502 and err.value.code == "upstream_error" and "HTTP 500" in err.value.message
    control.fail(503, times=3)
    with pytest.raises(openai.InternalServerError) as err:
        client.responses.create(model="faulty", input="hi")
    assert err.value.status_code == 503 and err.value.code == "upstream_overloaded"
    with pytest.raises(openai.InternalServerError) as err:
        client.responses.create(model="nowhere", input="hi")
    assert err.value.status_code == 503 and err.value.code == "upstream_unreachable" and "unreachable" in err.value.message
    control.stall(5.0)
    with pytest.raises(openai.InternalServerError) as err:
        client.responses.create(model="slow", input="hi")
    assert err.value.status_code == 504 and err.value.code == "upstream_timeout"
    # With its default retries the SDK tries again, and a healed upstream answers.
    control.reset()
    control.reply = Reply(text="healed")
    control.fail(500, times=3)
    resp = srv.client(max_retries=1).responses.create(model="faulty", input="hi")
    assert resp.output_text == "healed" and len(control.requests) == 4


def test_request_the_upstream_rejects_is_400_with_its_message(srv, control):
    body = {"error": {"message": "temperature is not supported by this model", "type": "invalid_request_error", "code": "unsupported_parameter", "param": "temperature"}}
    control.fail(400, body=body)
    with pytest.raises(openai.BadRequestError) as err:
        srv.client().responses.create(model="faulty", input="hi", temperature=0.5)
    e = err.value
    assert (e.code, e.param) == ("unsupported_parameter", "temperature") and "temperature is not supported" in e.message
    assert len(control.requests) == 1  # never retried


def test_refused_key_names_the_setting(srv, control):
    client = srv.client()
    control.fail(401)
    with pytest.raises(openai.AuthenticationError) as err:
        client.responses.create(model="keyed", input="hi")
    e = err.value
    assert e.code == "upstream_key_refused"
    assert f"model route 'keyed': the upstream refused the key from env:{KEY_VAR} (api_key in models.toml)" in e.message
    assert control.requests[-1].headers["authorization"] == "Bearer sk-upstream-123"
    control.fail(403)
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.responses.create(model="keyed", input="hi")
    assert err.value.code == "upstream_permission_denied" and f"env:{KEY_VAR}" in err.value.message


def test_unset_key_is_reported_at_start_and_on_401(srv, control):
    lines = [line for line in open(srv.log.name).read().splitlines() if UNSET_VAR in line]
    assert len(lines) == 1 and "WARNING" in lines[0] and "'unkeyed'" in lines[0] and "not set" in lines[0]
    control.fail(401)
    with pytest.raises(openai.AuthenticationError) as err:
        srv.client().responses.create(model="unkeyed", input="hi")
    assert f"model route 'unkeyed': no key was sent, because {UNSET_VAR} is not set (env:{UNSET_VAR}, api_key in models.toml)" in err.value.message
    assert "authorization" not in control.requests[-1].headers


def test_streams_and_background_keep_response_failed(srv, control):
    client = srv.client()
    control.fail(500, times=3)
    with client.responses.stream(model="faulty", input="hi") as stream:
        events = list(stream)
    assert events[-1].type == "response.failed" and "[upstream_error]" in events[-1].response.error.message
    assert client.responses.retrieve(events[-1].response.id).status == "failed"

    # A rate-limited upstream pauses the route; a background response waits it out and retries.
    control.reply = Reply(text="after the pause")
    control.fail(429, times=3, retry_after="0")
    queued = client.responses.create(model="faulty", input="hi", background=True)
    deadline = time.time() + 30
    while (done := client.responses.retrieve(queued.id)).status in ("queued", "in_progress") and time.time() < deadline:
        time.sleep(0.1)
    assert done.status == "completed" and done.output_text == "after the pause"


def test_failure_after_output_stays_a_failed_response(srv, control):
    control.reply = Reply(text="one two three four five six", chunks=6)
    control.cut(after_chunks=2)
    resp = srv.client().responses.create(model="faulty", input="hi")  # HTTP 200: there is output to keep
    assert resp.status == "failed" and "[upstream_stream_interrupted]" in resp.error.message
    assert resp.output[0].type == "message" and resp.output[0].status == "incomplete"


def test_assistants_runs_fail_with_the_sdk_codes(srv, control):
    client = srv.client()
    asst = client.beta.assistants.create(model="faulty")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    control.fail(429, times=3, retry_after="0")  # the route pauses; the run waits and retries
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, poll_interval_ms=100)
    assert run.status == "completed" and len(control.requests) == 4
    control.fail(500, times=3)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, poll_interval_ms=100)
    assert run.status == "failed" and run.last_error.code == "server_error" and "HTTP 500" in run.last_error.message


# -- logprobs through HTTP upstreams (the fake reports one made-up token per text chunk) ----------

LOGPROBS = ["message.output_text.logprobs"]


def test_chat_upstream_logprobs_are_asked_for_and_mapped(srv, control):
    client = srv.client()
    control.reply = Reply(text="Hello there, friend.", chunks=3)
    resp = client.responses.create(model="faulty", input="hi", include=LOGPROBS, top_logprobs=2)
    sent = control.requests[-1].body
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2
    part = resp.output[0].content[0]
    assert "".join(lp.token for lp in part.logprobs) == part.text == "Hello there, friend."
    first = part.logprobs[0]
    assert first.logprob == -0.25 and first.bytes == list(first.token.encode())
    assert [(t.token, t.logprob) for t in first.top_logprobs] == [(first.token, -0.25), ("alt1", -1.0)]

    with client.responses.stream(model="faulty", input="hi", include=LOGPROBS, top_logprobs=0) as stream:
        events = list(stream)
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert deltas and all(len(d.logprobs) == 1 and d.logprobs[0].token == d.delta and d.logprobs[0].top_logprobs == [] for d in deltas)
    assert len(events[-1].response.output[0].content[0].logprobs) == len(deltas)

    plain = client.responses.create(model="faulty", input="hi")
    assert plain.output[0].content[0].logprobs == [] and "logprobs" not in control.requests[-1].body


def test_routes_that_cannot_give_logprobs_are_400(srv, control):
    client = srv.client()
    asked = len(control.requests)
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="no_logprobs", input="hi", include=["file_search_call.results", *LOGPROBS])
    assert err.value.param == "include[1]" and LOGPROBS[0] in err.value.message
    assert len(control.requests) == asked  # refused before calling the upstream
    control.send_logprobs = False  # an upstream that ignores the request
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="faulty", input="hi", include=LOGPROBS)
    assert err.value.param == "include" and err.value.code == "logprobs_unavailable" and LOGPROBS[0] in err.value.message


def test_responses_upstream_passes_logprobs_through(srv, control):
    control.reply = Reply(text="From upstream.", chunks=2)
    resp = srv.client().responses.create(model="responses_up", input="hi", include=LOGPROBS, top_logprobs=3)
    sent = control.requests[-1].body
    assert sent["include"] == LOGPROBS and sent["top_logprobs"] == 3
    part = resp.output[0].content[0]
    assert "".join(lp.token for lp in part.logprobs) == part.text
    assert [t.token for t in part.logprobs[0].top_logprobs] == [part.logprobs[0].token, "alt1", "alt2"]
    assert part.logprobs[0].bytes == list(part.logprobs[0].token.encode())
