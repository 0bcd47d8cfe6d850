"""`include=["message.output_text.logprobs"]` with `top_logprobs`: real log-probabilities from
the embedded model and from a real Chat Completions upstream (llama-cpp-python's server), on the
text parts and on the stream's deltas; a route that cannot give them answers 400."""

from __future__ import annotations

import math

import openai
import pytest

LOGPROBS = ["message.output_text.logprobs"]
QUESTION = "What is the capital of France?"


def check_tokens(logprobs, text: str, top: int) -> None:
    """Values a real model gives: the tokens spell the text, each a natural log <= 0 of a
    probability, alternatives sorted and counted as asked, and the sampled token among them at
    temperature 0 with the same value."""
    assert logprobs and "".join(lp.token for lp in logprobs) == text
    for lp in logprobs:
        assert lp.logprob <= 0 and lp.bytes
        values = [t.logprob for t in lp.top_logprobs]
        assert len(values) == top and values == sorted(values, reverse=True) and all(v <= 0 for v in values)
        assert sum(math.exp(v) for v in values) <= 1.0001  # probabilities of distinct tokens
        same = [t for t in lp.top_logprobs if t.bytes == lp.bytes]
        assert same and abs(same[0].logprob - lp.logprob) < 1e-4
    total = sum(lp.logprob for lp in logprobs)
    assert 0 < math.exp(total) <= 1 and total / len(logprobs) > -3  # greedy text is likely text


@pytest.mark.parametrize("model", ["smollm2", "upstream"])
def test_logprobs_on_the_text_part(server, model):
    client = server.client()
    resp = client.responses.create(model=model, input=QUESTION, include=LOGPROBS, top_logprobs=5, temperature=0, max_output_tokens=24)
    part = resp.output[0].content[0]
    check_tokens(part.logprobs, part.text, 5)
    assert resp.top_logprobs == 5
    stored = client.responses.retrieve(resp.id).output[0].content[0]
    assert [(lp.token, lp.logprob) for lp in stored.logprobs] == [(lp.token, lp.logprob) for lp in part.logprobs]
    plain = client.responses.create(model=model, input=QUESTION, temperature=0, max_output_tokens=4)
    assert plain.output[0].content[0].logprobs == []  # not asked for


@pytest.mark.parametrize("model", ["smollm2", "upstream"])
def test_logprobs_on_stream_deltas(server, model):
    client = server.client()
    with client.responses.stream(model=model, input=QUESTION, include=LOGPROBS, top_logprobs=2, temperature=0, max_output_tokens=16) as stream:
        events = list(stream)
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    done = next(e for e in events if e.type == "response.output_text.done")
    final = events[-1].response.output[0].content[0]
    streamed = [lp for d in deltas for lp in d.logprobs]
    assert streamed and all(d.logprobs for d in deltas[:1])
    assert "".join(lp.token for lp in streamed) == done.text == final.text
    assert [(lp.token, lp.logprob) for lp in streamed] == [(lp.token, lp.logprob) for lp in done.logprobs] == [(lp.token, lp.logprob) for lp in final.logprobs]
    check_tokens(final.logprobs, final.text, 2)


def test_a_route_without_logprobs_is_400(server):
    with pytest.raises(openai.BadRequestError) as err:
        server.client().responses.create(model="scripted", input="hi", include=LOGPROBS)
    assert err.value.param == "include[0]" and err.value.code == "unsupported_value"
    assert "message.output_text.logprobs" in err.value.message and "scripted" in err.value.message
