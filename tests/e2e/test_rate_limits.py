"""Per-route rate limits (`rpm`, `tpm`, `rate_window` in the models file) and upstream 429
pauses, through live `onward serve` processes and the official SDK: 429 with Retry-After over
the limit, OpenAI's x-ratelimit-* headers on every reply, one shared limit across processes
through Redis, per process without it."""

from __future__ import annotations

import time
import uuid

import openai
import pytest

from tests.conftest import Server, new_pg_database
from tests.fakes import Reply, start_fake_upstream

REDIS_URL = "redis://127.0.0.1:6379/0"
# rpm 3 per 12 s: one request comes back every 4 s, far longer than three quick requests take.
LIMITED = '[models.limited]\nprovider = "scripted"\nrpm = 3\nrate_window = 12\nscript = [{ text = "ok then" }]\n'
# tpm over an hour: the bucket refills ~0.3 tokens/s, so header values move only by what requests take.
TOKENS = '[models.tokens]\nprovider = "scripted"\ntpm = 1000\nrate_window = 3600\nscript = [{ text = "one two three" }]\n'

TOKENS_CMP = '[models.tokens-cmp]\nprovider = "scripted"\ntpm = 1000\nrate_window = 3600\nscript = [{ text = "one two three" }]\n'
TOKENS_BG = '[models.tokens-bg]\nprovider = "scripted"\ntpm = 1000\nrate_window = 3600\nscript = [{ text = "one two three" }]\n'
# One request per 10 s: an Assistants run over it waits for its turn instead of failing.
RUNS = '[models.runs]\nprovider = "scripted"\nrpm = 1\nrate_window = 10\nscript = [{ text = "run reply" }]\n'


def _url(kind: str, tmp, stack) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'o.db'}"
    return stack.enter_context(new_pg_database("onward_rl"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def srv(request, tmp_path_factory):
    import contextlib

    with contextlib.ExitStack() as stack:
        tmp = tmp_path_factory.mktemp(f"rl-{request.param}")
        server = Server(tmp, _url(request.param, tmp, stack), 'default = "limited"\n' + LIMITED + TOKENS + TOKENS_CMP + TOKENS_BG + RUNS).start()
        yield server
        server.stop()


def _remaining(raw, kind: str = "requests") -> int:
    return int(raw.headers[f"x-ratelimit-remaining-{kind}"])


def test_rpm_429_headers_and_sdk_retry(srv):
    client = srv.client()  # max_retries=0
    seen = []
    for _ in range(3):
        raw = client.responses.with_raw_response.create(model="limited", input="hi")
        assert raw.parse().output_text == "ok then"
        assert raw.headers["x-ratelimit-limit-requests"] == "3"
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
        seen.append(_remaining(raw))
    assert seen == [2, 1, 0]
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="limited", input="hi")
    e = err.value
    assert e.status_code == 429 and e.code == "rate_limit_exceeded" and "RPM" in e.message
    assert int(e.response.headers["retry-after"]) >= 1 and int(e.response.headers["retry-after-ms"]) > 0
    assert e.response.headers["x-ratelimit-remaining-requests"] == "0"
    # The SDK's own retries honour Retry-After and get through once a request comes back.
    resp = srv.client(max_retries=3).responses.create(model="limited", input="hi")
    assert resp.output_text == "ok then"
    # Streams carry the headers too.
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="limited", input="hi", stream=True)


def test_tpm_counts_input_plus_output_cap_and_settles(srv):
    client = srv.client()
    counted = client.responses.input_tokens.count(model="tokens", input="hello there").input_tokens
    raw = client.responses.with_raw_response.create(model="tokens", input="hello there", max_output_tokens=200)
    first = raw.parse()
    assert raw.headers["x-ratelimit-limit-tokens"] == "1000" and "x-ratelimit-limit-requests" not in raw.headers
    left = _remaining(raw, "tokens")
    assert 1000 - counted - 200 <= left <= 1000 - counted - 200 + 2  # charged at admission
    raw = client.responses.with_raw_response.create(model="tokens", input="hello there", max_output_tokens=200)
    # The first request settled to its real usage: its unused output cap came back.
    expected = 1000 - first.usage.total_tokens - counted - 200
    assert expected <= _remaining(raw, "tokens") <= expected + 2
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="tokens", input="hello there", max_output_tokens=990)  # more than is left once both settled
    assert "TPM" in err.value.message and err.value.response.headers["retry-after"]


def test_background_response_settles_its_charge(srv):
    client = srv.client()
    counted = client.responses.input_tokens.count(model="tokens-bg", input="hello there").input_tokens
    raw = client.responses.with_raw_response.create(model="tokens-bg", input="hello there", max_output_tokens=300, background=True)
    assert 1000 - counted - 300 <= _remaining(raw, "tokens") <= 1000 - counted - 300 + 2
    done = _wait_done(client, raw.parse().id)
    assert done.status == "completed"
    raw = client.responses.with_raw_response.create(model="tokens-bg", input="hello there", max_output_tokens=300)
    expected = 1000 - done.usage.total_tokens - counted - 300
    assert expected <= _remaining(raw, "tokens") <= expected + 2


def test_assistants_run_waits_for_the_limit(srv):
    client = srv.client()
    asst = client.beta.assistants.create(model="runs")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, poll_interval_ms=100)
    assert run.status == "completed"
    with pytest.raises(openai.RateLimitError):  # the run took the route's one request
        client.responses.create(model="runs", input="hi")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, poll_interval_ms=100)
    assert run.status == "completed"  # it waited for the budget instead of failing
    msgs = client.beta.threads.messages.list(thread.id, order="asc").data
    assert [m.content[0].text.value for m in msgs if m.role == "assistant"] == ["run reply", "run reply"]


def _pair(url: str, tmp, redis_prefix: str | None) -> list[Server]:
    env = {"ONWARD_REDIS_URL": REDIS_URL, "ONWARD_REDIS_PREFIX": redis_prefix} if redis_prefix else {}
    servers = []
    for i in range(2):
        d = tmp / f"p{i}"
        d.mkdir()
        servers.append(Server(d, url if "postgres" in url else f"sqlite:///{d / 'o.db'}", LIMITED, env=env).start())
    return servers


def test_two_processes_share_one_limit_through_redis(tmp_path):
    with new_pg_database("onward_rl") as url:
        a, b = _pair(url, tmp_path, f"onward-test-{uuid.uuid4().hex[:8]}:")
        try:
            ca, cb = a.client(), b.client()
            ca.responses.create(model="limited", input="hi")
            cb.responses.create(model="limited", input="hi")
            raw = ca.responses.with_raw_response.create(model="limited", input="hi")
            assert _remaining(raw) == 0
            with pytest.raises(openai.RateLimitError):
                cb.responses.create(model="limited", input="hi")
        finally:
            a.stop()
            b.stop()


def test_without_redis_each_process_has_its_own_limit(tmp_path):
    a, b = _pair("sqlite", tmp_path, None)
    try:
        for c in (a.client(), b.client()):
            assert [_remaining(c.responses.with_raw_response.create(model="limited", input="hi")) for _ in range(3)] == [2, 1, 0]
        with pytest.raises(openai.RateLimitError):
            a.client().responses.create(model="limited", input="hi")
    finally:
        a.stop()
        b.stop()


def test_each_api_key_has_its_own_budget(tmp_path):
    server = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", LIMITED, env={"ONWARD_API_KEYS": "key-a,key-b"}).start()
    try:
        a, b = server.client(api_key="key-a"), server.client(api_key="key-b")
        assert [_remaining(a.responses.with_raw_response.create(model="limited", input="hi")) for _ in range(3)] == [2, 1, 0]
        with pytest.raises(openai.RateLimitError):
            a.responses.create(model="limited", input="hi")
        assert _remaining(b.responses.with_raw_response.create(model="limited", input="hi")) == 2
    finally:
        server.stop()



def test_compact_is_admitted_and_answers_the_headers(srv):
    client = srv.client()
    before = _remaining(client.responses.with_raw_response.create(model="tokens-cmp", input="hi"), "tokens")
    raw = client.responses.with_raw_response.compact(model="tokens-cmp", input="summarize me please")
    assert raw.parse().output[-1].type == "compaction"
    assert {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"} <= set(raw.headers)
    assert _remaining(raw, "tokens") < before  # the summary's input and output cap were charged


def test_compact_over_the_limit_is_429(tmp_path):
    toml = '[models.one]\nprovider = "scripted"\nrpm = 1\nrate_window = 3600\nscript = [{ text = "summary" }]\n'
    server = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", toml).start()
    try:
        client = server.client(max_retries=0)
        client.responses.compact(model="one", input="a long talk")
        with pytest.raises(openai.RateLimitError) as err:
            client.responses.compact(model="one", input="a long talk")
        assert err.value.response.headers["retry-after"]
    finally:
        server.stop()


def test_assistants_runs_charge_their_creators_key(tmp_path):
    server = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", RUNS.replace("rate_window = 10", "rate_window = 3600"), env={"ONWARD_API_KEYS": "key-a,key-b"}).start()
    try:
        a, b = server.client(api_key="key-a", max_retries=0), server.client(api_key="key-b", max_retries=0)
        asst = a.beta.assistants.create(model="runs")
        thread = a.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        assert a.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, poll_interval_ms=100).status == "completed"
        with pytest.raises(openai.RateLimitError):  # key-a's run took key-a's one request
            a.responses.create(model="runs", input="hi")
        assert b.responses.create(model="runs", input="hi").status == "completed"  # key-b's budget is whole
    finally:
        server.stop()


# -- an upstream's own 429 pauses the route ----------------------------------------------------


@pytest.fixture(scope="module")
def fake():
    base_url, control = start_fake_upstream()
    yield base_url, control
    control.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def up(request, fake, tmp_path_factory):
    import contextlib

    with contextlib.ExitStack() as stack:
        tmp = tmp_path_factory.mktemp(f"rl-up-{request.param}")
        toml = f'[models.paced]\nprovider = "chat_completions"\nbase_url = "{fake[0]}"\nupstream_model = "fake-model"\nretries = 0\ntimeout = 5\n'
        server = Server(tmp, _url(request.param, tmp, stack), toml).start()
        yield server
        server.stop()


def _wait_done(client, rid: str):
    deadline = time.time() + 60
    while (r := client.responses.retrieve(rid)).status in ("queued", "in_progress") and time.time() < deadline:
        time.sleep(0.1)
    return r


def test_upstream_429_pauses_the_route_and_background_waits(up, fake):
    control = fake[1]
    control.reset()
    control.reply = Reply(text="after the pause")
    client = up.client()
    control.fail(429, times=1, retry_after="2")
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="paced", input="hi")
    assert len(control.requests) == 1
    # Paused: refused here with the time left, and the upstream is not called.
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="paced", input="hi")
    assert err.value.response.headers["retry-after"] and "paused" in err.value.message
    assert len(control.requests) == 1
    # A background response waits the pause out and then completes.
    queued = client.responses.create(model="paced", input="hi", background=True)
    done = _wait_done(client, queued.id)
    assert done.status == "completed" and done.output_text == "after the pause"
    assert len(control.requests) == 2
    # One that meets the 429 itself pauses the route, waits, and tries again.
    control.fail(429, times=1, retry_after="1")
    queued = client.responses.create(model="paced", input="hi", background=True)
    done = _wait_done(client, queued.id)
    assert done.status == "completed" and done.output_text == "after the pause"
    assert len(control.requests) == 4


def test_limits_on_the_embedded_model(tmp_path):
    """The real model: the token charge is its tokenizer's count plus the cap, settled to its usage."""
    toml = '[models.small]\nprovider = "local"\ncontext_window = 1024\nrpm = 2\ntpm = 5000\nrate_window = 3600\n'
    server = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", toml).start()
    try:
        client = server.client()
        counted = client.responses.input_tokens.count(model="small", input="Say hello.").input_tokens
        started = time.monotonic()
        raw = client.responses.with_raw_response.create(model="small", input="Say hello.", max_output_tokens=16)
        first = raw.parse()
        assert first.usage.input_tokens == counted and 0 < first.usage.output_tokens <= 16
        assert _remaining(raw) == 1 and 5000 - counted - 16 <= _remaining(raw, "tokens") <= 5000 - counted - 16 + 2
        raw = client.responses.with_raw_response.create(model="small", input="Say hello.", max_output_tokens=16)
        refilled = (time.monotonic() - started) * 5000 / 3600  # the bucket refills while the model writes
        expected = 5000 - first.usage.total_tokens - counted - 16
        assert _remaining(raw) == 0 and expected <= _remaining(raw, "tokens") <= expected + 2 + refilled
        with pytest.raises(openai.RateLimitError):
            client.responses.create(model="small", input="Say hello.", max_output_tokens=16)
    finally:
        server.stop()
