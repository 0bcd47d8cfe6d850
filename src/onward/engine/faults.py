"""A model failure as the HTTP error a non-streamed request answers with.

A foreground request without `stream` whose model fails before producing any output gets an
HTTP error in OpenAI's envelope instead of a `failed` response, so that clients' own retry
logic applies (the openai SDKs retry 408/409/429/5xx, honouring `Retry-After`):

| upstream fault                                  | status | code                        |
|-------------------------------------------------|--------|-----------------------------|
| rate limited (429), after Onward's own retries  | 429    | rate_limit_exceeded         |
| rejected the request (400, context too long)    | 400    | the upstream's, with param  |
| refused or missing key (401 / 403)              | 401/403| upstream_key_refused, ...   |
| failing (5xx) or broken stream                  | 502    | upstream_error              |
| overloaded (503) or unreachable (refused, DNS)  | 503    | upstream_overloaded/_unreachable |
| too slow (no data within the route's timeout)   | 504    | upstream_timeout            |

Streams and background responses report the same failures as `response.failed`.
"""

from __future__ import annotations

import math

from ..errors import APIError
from ..providers.base import ProviderError

DEFAULT_RETRY_AFTER = 1.0  # seconds, when a rate-limited upstream did not say


def http_error(exc: ProviderError) -> APIError:
    """The APIError for a provider failure (status, code, param and headers as in the table)."""
    status = exc.status if 400 <= exc.status < 600 else 502
    headers: dict[str, str] = {}
    if status == 429:
        wait = exc.retry_after if exc.retry_after is not None and exc.retry_after > 0 else DEFAULT_RETRY_AFTER
        # Both forms: the openai SDKs read `retry-after-ms` first, other clients `retry-after`.
        headers = {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(int(wait * 1000))}
    return APIError(status, exc.message, param=exc.param, code=exc.code, headers=headers)
