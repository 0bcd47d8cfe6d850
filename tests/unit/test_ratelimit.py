"""The rate limiter's buckets, settlement, pauses and headers, on both backends (in-process
and the real Redis the tests use); no timing is asserted beyond what a 1-hour window makes exact."""

from __future__ import annotations

import uuid

import pytest

from onward.config import ModelRoute
from onward.engine.ratelimit import RateLimiter, duration

ROUTE = ModelRoute(name="m", provider="scripted", options={"rpm": 2, "tpm": 100, "rate_window": 3600})


def test_duration_is_openais_format():
    assert [duration(x) for x in (0, 0.02, 1, 59.5, 360, 3723)] == ["0s", "20ms", "1s", "59.5s", "6m0s", "1h2m3s"]


def test_bad_limit_is_refused_naming_the_route():
    with pytest.raises(ValueError, match="model route 'bad': rpm must be a positive number"):
        RateLimiter([ModelRoute(name="bad", provider="scripted", options={"rpm": "many"})])


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_admit_settle_and_pause(backend):
    limiter = RateLimiter([ROUTE], "redis://127.0.0.1:6379/0" if backend == "redis" else None, prefix=f"onward-unit-{uuid.uuid4().hex[:8]}:")
    try:
        await _exercise(limiter)
    finally:
        await limiter.aclose()


async def _exercise(limiter):
    v = await limiter.admit("m", "*", 30)
    assert v.ok and v.headers["x-ratelimit-remaining-requests"] == "1" and v.headers["x-ratelimit-remaining-tokens"] == "70"
    assert v.headers["x-ratelimit-limit-tokens"] == "100" and v.headers["x-ratelimit-reset-requests"].endswith("s")
    await limiter.settle("m", "*", -20)  # used 10 of the 30 charged
    v = await limiter.admit("m", "*", 85)  # 90 left: fits
    assert v.ok and v.headers["x-ratelimit-remaining-tokens"] == "5"
    v = await limiter.admit("m", "*", 1)  # the requests budget is spent: nothing is taken
    assert not v.ok and v.wait > 0 and v.headers["x-ratelimit-remaining-tokens"] == "5"
    other = await limiter.admit("m", "key-b", 500)  # another caller has its own budgets (cost capped at tpm)
    assert other.ok and other.headers["x-ratelimit-remaining-tokens"] == "0"
    assert await limiter.paused_for("m") == 0
    await limiter.pause("m", 30)
    assert 0 < await limiter.paused_for("m") <= 30
    v = await limiter.admit("m", "key-c", 1)
    assert not v.ok and v.wait > 20


async def test_unreachable_redis_admits_without_limits(caplog):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    limiter = RateLimiter([ROUTE], f"redis://127.0.0.1:{port}/0")
    try:
        for _ in range(3):  # over rpm = 2, still admitted
            v = await limiter.admit("m", "*", 10)
            assert v.ok and v.headers == {}
        await limiter.pause("m", 5)
        assert await limiter.paused_for("m") == 0
        assert sum("rate limits are not enforced" in r.message for r in caplog.records) == 1
    finally:
        await limiter.aclose()
