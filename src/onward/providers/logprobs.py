"""Token log-probabilities in one shape for every provider (`base.TokenLogprob`, the SDK's
`response_output_text.Logprob`): from raw logits (the embedded model) or from an upstream's
Chat Completions / Responses entries."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .base import TokenLogprob
from .http import UpstreamFault

FLOOR = -9999.0  # what OpenAI reports for a probability too small to write down


def from_logits(logits: Any, token: int, text: str, raw: bytes, top: int, detokenize: Callable[[int], bytes]) -> TokenLogprob:
    """The sampled `token` (whose text is `text`, bytes `raw`) and the `top` most likely tokens
    at its position, from the raw logits (a numpy vector over the vocabulary) it was sampled
    from: the model's own distribution, before temperature, penalties and grammars, as OpenAI's
    and llama.cpp's servers report it. One log-softmax over the vocabulary (~0.1 ms)."""
    import numpy as np

    peak = float(logits.max())
    norm = peak + float(np.log(np.exp(logits - peak).sum()))
    entry: TokenLogprob = {"token": text, "bytes": list(raw), "logprob": min(float(logits[token]) - norm, 0.0), "top_logprobs": []}
    if top:
        best = np.argpartition(logits, -top)[-top:]
        for i in best[np.argsort(-logits[best], kind="stable")]:
            piece = detokenize(int(i))
            entry["top_logprobs"].append({"token": piece.decode("utf-8", "replace"), "bytes": list(piece), "logprob": min(float(logits[i]) - norm, 0.0)})
    return entry


def _one(e: dict[str, Any]) -> dict[str, Any]:
    token = str(e.get("token") or "")
    raw = e.get("bytes")
    value = e.get("logprob")
    logprob = float(value) if isinstance(value, int | float) and math.isfinite(value) else FLOOR
    return {"token": token, "bytes": list(raw) if isinstance(raw, list) else list(token.encode()), "logprob": min(logprob, 0.0)}


def from_upstream(entry: Any, top: int) -> TokenLogprob:
    """A Chat Completions `logprobs.content[]` entry (or a Responses delta's `logprobs[]`) as
    ours: `bytes` filled in where the upstream leaves them out (llama.cpp sends null, Responses
    deltas none), alternatives most likely first and at most `top` (llama.cpp adds the sampled
    token to them)."""
    if not isinstance(entry, dict):
        raise UpstreamFault(f"invalid logprobs entry from upstream: {str(entry)[:200]}", retryable=False)
    alternatives = sorted((_one(t) for t in entry.get("top_logprobs") or [] if isinstance(t, dict)), key=lambda t: -t["logprob"])
    return {**_one(entry), "top_logprobs": alternatives[:top]}


def unavailable() -> UpstreamFault:
    """The upstream answered a request for log-probabilities with bare text: a 400 naming the
    include value (never retried), rather than an empty list."""
    return UpstreamFault(
        "the upstream returned no log-probabilities for include 'message.output_text.logprobs' "
        "(set `logprobs = false` on this model route to refuse such requests before calling it)",
        code="logprobs_unavailable",
        status=400,
        retryable=False,
        param="include",
    )
