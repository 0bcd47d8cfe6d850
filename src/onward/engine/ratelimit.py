"""Per-route rate limits (`rpm`, `tpm` in a `[models.NAME]` table) and upstream 429 pauses.

Each (route, caller) has two buckets that refill continuously (a token bucket, GCRA's
equivalent): `rpm` requests and `tpm` tokens per `rate_window` seconds (default 60). A request
is admitted only when both buckets hold its cost (all or nothing); tokens are charged the
estimated input plus `max_output_tokens` and settled to the real usage afterwards. A route
may also be paused (an upstream answered 429 with Retry-After): until the pause ends every
admission fails with the time left.

Two backends with one algorithm: in-process (a dict), or Redis (`ONWARD_REDIS_URL`; one Lua
script per call, so check-and-consume is atomic across Onward processes and the clock is
Redis's own). Headers follow OpenAI's `x-ratelimit-*` names and duration format
(https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from ..config import ModelRoute
from ..errors import APIError

log = logging.getLogger("onward.ratelimit")

MAX_WAIT = 300.0  # seconds a background job or run sleeps at most for one pause/limit

# KEYS: pause, requests bucket, tokens bucket. ARGV: window s, rpm, tpm, requests cost,
# tokens cost, force (1: consume even when short; settling), pause seconds (>0: set a pause).
# Returns {ok, requests level, tokens level, wait s, now} as strings (Lua numbers to Redis
# integers would truncate).
LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local window = tonumber(ARGV[1])
local pause_for = tonumber(ARGV[7])
if pause_for > 0 then
  local until_ = tonumber(redis.call('GET', KEYS[1]) or '0')
  if now + pause_for > until_ then redis.call('SET', KEYS[1], tostring(now + pause_for), 'PX', math.ceil(pause_for * 1000)) end
  return {'1', '0', '0', '0', tostring(now)}
end
local force = ARGV[6] == '1'
local wait = 0
if not force then
  local until_ = tonumber(redis.call('GET', KEYS[1]) or '0')
  if until_ > now then wait = until_ - now end
end
local levels = {}
for i = 1, 2 do
  local limit = tonumber(ARGV[1 + i])
  local cost = tonumber(ARGV[3 + i])
  if limit > 0 then
    local v = redis.call('HMGET', KEYS[1 + i], 'l', 't')
    local level = limit
    if v[1] then level = math.min(limit, tonumber(v[1]) + (now - tonumber(v[2])) * limit / window) end
    levels[i] = level
    if not force and level < cost then wait = math.max(wait, (cost - level) * window / limit) end
  else
    levels[i] = 0
  end
end
local ok = force or wait == 0
if ok then
  for i = 1, 2 do
    local limit = tonumber(ARGV[1 + i])
    if limit > 0 then
      levels[i] = math.min(limit, levels[i] - tonumber(ARGV[3 + i]))
      redis.call('HSET', KEYS[1 + i], 'l', tostring(levels[i]), 't', tostring(now))
      redis.call('PEXPIRE', KEYS[1 + i], math.ceil(window * 2000))
    end
  end
end
return {ok and '1' or '0', tostring(levels[1]), tostring(levels[2]), tostring(wait), tostring(now)}
"""


@dataclass
class Limits:
    rpm: int = 0  # 0: no limit
    tpm: int = 0
    window: float = 60.0

    @classmethod
    def of(cls, route: ModelRoute) -> Limits:
        """The route's `rpm`, `tpm` and `rate_window` (seconds); ValueError names a bad one."""
        out = cls()
        for key in ("rpm", "tpm", "rate_window"):
            value = route.options.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"model route '{route.name}': {key} must be a positive number, got {value!r}")
            if key == "rate_window":
                out.window = float(value)
            else:
                setattr(out, key, int(value))
        return out


@dataclass
class Verdict:
    ok: bool
    wait: float  # seconds until the request would be admitted (0 when ok)
    headers: dict[str, str]


def duration(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1s`, `6m0s`, `1h2m3s` (Go-style durations)."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s:.3f}".rstrip("0").rstrip(".") + "s"
    if h:
        return f"{int(h)}h{int(m)}m{sec}"
    if m:
        return f"{int(m)}m{sec}"
    return sec


def retry_headers(wait: float) -> dict[str, str]:
    """`retry-after` (whole seconds) and `retry-after-ms`; the openai SDKs read the latter first."""
    return {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(max(1, int(wait * 1000)))}


def caller_of(authorization: str | None, keyed: bool) -> str:
    """The bucket owner: a hash of the bearer key when the server has keys, else everyone."""
    if not keyed or not authorization:
        return "*"
    return hashlib.sha256(authorization.encode()).hexdigest()[:16]


class RateLimiter:
    """Admission, settlement and pauses for every limited route (see the module docstring)."""

    def __init__(self, routes: list[ModelRoute], redis_url: str | None = None, prefix: str = "onward:rl:") -> None:
        self.limits = {r.name: Limits.of(r) for r in routes}
        self.prefix = prefix
        self._redis: Any = None
        self._script: Any = None
        self._mem: dict[str, tuple[float, float]] = {}  # bucket key → (level, at)
        self._paused: dict[str, float] = {}  # route → monotonic time the pause ends
        self._warned = -1e9  # when the store's unavailability was last logged
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url)
            self._script = self._redis.register_script(LUA)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    def limited(self, route: str) -> bool:
        lim = self.limits.get(route)
        return bool(lim and (lim.rpm or lim.tpm))

    async def _call(self, route: str, caller: str, lim: Limits, requests: float, tokens: float, force: bool, pause: float = 0.0) -> tuple[bool, float, float, float]:
        base = f"{self.prefix}{route}"
        if self._redis is not None:
            keys = [f"{base}:pause", f"{base}:{caller}:req", f"{base}:{caller}:tok"]
            out = await self._script(keys=keys, args=[lim.window, lim.rpm, lim.tpm, requests, tokens, "1" if force else "0", pause])
            return out[0] == b"1", float(out[1]), float(out[2]), float(out[3])
        now = time.monotonic()
        if pause > 0:
            self._paused[route] = max(self._paused.get(route, 0.0), now + pause)
            return True, 0.0, 0.0, 0.0
        wait = max(0.0, self._paused.get(route, 0.0) - now) if not force else 0.0
        levels: list[float] = []
        for kind, limit, cost in (("req", lim.rpm, requests), ("tok", lim.tpm, tokens)):
            if not limit:
                levels.append(0.0)
                continue
            level, at = self._mem.get(f"{base}:{caller}:{kind}", (float(limit), now))
            level = min(limit, level + (now - at) * limit / lim.window)
            levels.append(level)
            if not force and level < cost:
                wait = max(wait, (cost - level) * lim.window / limit)
        ok = force or wait == 0
        if ok:
            for i, (kind, limit, cost) in enumerate((("req", lim.rpm, requests), ("tok", lim.tpm, tokens))):
                if limit:
                    levels[i] = min(limit, levels[i] - cost)
                    self._mem[f"{base}:{caller}:{kind}"] = (levels[i], now)
        return ok, levels[0], levels[1], wait

    def _headers(self, lim: Limits, req_level: float, tok_level: float) -> dict[str, str]:
        out: dict[str, str] = {}
        for kind, limit, level in (("requests", lim.rpm, req_level), ("tokens", lim.tpm, tok_level)):
            if limit:
                out[f"x-ratelimit-limit-{kind}"] = str(limit)
                out[f"x-ratelimit-remaining-{kind}"] = str(max(0, math.floor(level)))
                out[f"x-ratelimit-reset-{kind}"] = duration((limit - level) * lim.window / limit)
        return out

    async def admit(self, route: str, caller: str, tokens: int) -> Verdict:
        """Take one request and `tokens` (capped at the route's tpm, so a big request waits
        for a full bucket instead of never fitting) from (route, caller)'s buckets, or take
        nothing and say how long to wait. Routes without limits are always admitted."""
        lim = self.limits.get(route)
        if lim is None or not (lim.rpm or lim.tpm):
            return Verdict(True, 0.0, {})
        cost = min(tokens, lim.tpm) if lim.tpm else 0
        try:
            ok, req, tok, wait = await self._call(route, caller, lim, 1 if lim.rpm else 0, cost, False)
        except Exception as exc:  # Redis unreachable: serve unlimited rather than fail every request
            self._unavailable(exc)
            return Verdict(True, 0.0, {})
        return Verdict(ok, wait, self._headers(lim, req, tok))

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned > 60:  # once a minute, not once a request
            self._warned = now
            log.warning("rate limits are not enforced: their store is unavailable (%s: %s)", type(exc).__name__, exc)

    async def settle(self, route: str, caller: str, delta: int) -> None:
        """Charge `delta` more tokens (negative: give back) once the real usage is known."""
        lim = self.limits.get(route)
        if lim is None or not lim.tpm or not delta:
            return
        try:
            await self._call(route, caller, lim, 0, delta, True)
        except Exception as exc:
            self._unavailable(exc)

    async def pause(self, route: str, seconds: float) -> None:
        """No admission for `route` during the next `seconds` (an upstream's Retry-After)."""
        if seconds > 0:
            try:
                await self._call(route, "*", self.limits.get(route) or Limits(), 0, 0, False, pause=seconds)
            except Exception as exc:
                self._unavailable(exc)

    async def paused_for(self, route: str) -> float:
        """Seconds left of `route`'s pause (0: not paused)."""
        if self._redis is not None:
            try:
                raw = await self._redis.get(f"{self.prefix}{route}:pause")
                if raw is None:
                    return 0.0
                now = await self._redis.time()
            except Exception as exc:
                self._unavailable(exc)
                return 0.0
            return max(0.0, float(raw) - (now[0] + now[1] / 1e6))
        return max(0.0, self._paused.get(route, 0.0) - time.monotonic())

    async def wait_paused(self, route: str, limit: float = MAX_WAIT) -> None:
        """Sleep until `route`'s pause ends (at most `limit` seconds): background work and
        Assistants runs wait instead of failing."""
        deadline = time.monotonic() + limit
        # Polled, not an Event: with Redis the pause may be set by another process.
        while (left := await self.paused_for(route)) > 0 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(min(left, deadline - time.monotonic()) + 0.01)


def too_many(model: str, verdict: Verdict, lim: Limits, tokens: int) -> APIError:
    """429 `rate_limit_exceeded` in OpenAI's wording, with Retry-After and the x-ratelimit headers."""
    if verdict.headers.get("x-ratelimit-remaining-requests") == "0" and lim.rpm:
        what = f"requests per {duration(lim.window)} (RPM): Limit {lim.rpm}, Requested 1"
    elif lim.tpm and int(verdict.headers.get("x-ratelimit-remaining-tokens", "0")) < min(tokens, lim.tpm):
        what = f"tokens per {duration(lim.window)} (TPM): Limit {lim.tpm}, Requested {tokens}"
    else:
        what = "requests: the upstream asked Onward to pause this model"
    message = f"Rate limit reached for {model} on {what}. Please try again in {duration(verdict.wait)}."
    return APIError(429, message, code="rate_limit_exceeded", headers={**verdict.headers, **retry_headers(verdict.wait)})


DEFAULT_PAUSE = 1.0  # seconds, when a rate-limited upstream did not say
TRIES_WAITING = 4  # model calls a waiting caller (background, run) makes through upstream 429s


class Paced:
    """A provider behind its route's upstream pause. An upstream 429 (after the provider's own
    retries) pauses the route for its Retry-After; while paused, a caller that cannot wait
    (a client's request) fails at once with 429 and the time left, without calling the
    upstream; one that can (`wait`: background responses, Assistants runs) sleeps through the
    pause and tries again, up to TRIES_WAITING calls. Other attributes are the provider's."""

    def __init__(self, provider: Any, limiter: RateLimiter, route: str, wait: bool) -> None:
        self._provider = provider
        self._limiter = limiter
        self._route = route
        self._wait = wait

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    async def stream(self, request: Any) -> Any:
        from ..providers.base import ProviderError

        for attempt in range(TRIES_WAITING if self._wait else 1):
            left = await self._limiter.paused_for(self._route)
            if left > 0:
                if not self._wait:
                    raise ProviderError(
                        f"Model '{self._route}' is paused: its upstream asked to slow down. Please try again in {duration(left)}.",
                        code="rate_limit_exceeded", status=429, retry_after=left,
                    )
                await self._limiter.wait_paused(self._route)
            started = False
            try:
                async for event in self._provider.stream(request):
                    started = True
                    yield event
                return
            except ProviderError as exc:
                if exc.status != 429 or started:
                    raise
                await self._limiter.pause(self._route, exc.retry_after if exc.retry_after and exc.retry_after > 0 else DEFAULT_PAUSE)
                if not self._wait or attempt == TRIES_WAITING - 1:
                    raise
