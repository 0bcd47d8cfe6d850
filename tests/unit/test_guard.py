"""The request-body guard (api/guard.py): its limits at their edges, and why they are safe."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from onward.api.guard import INT_MAX, INT_MIN, MAX_JSON_DEPTH, check_json
from onward.errors import APIError


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"x": value}
    return value


def run(body: Any) -> APIError | None:
    raw = orjson.dumps(body)
    try:
        check_json(raw, orjson.loads(raw))
    except APIError as exc:
        return exc
    return None


def test_depth_limit_edges():
    assert run(nested(MAX_JSON_DEPTH)) is None
    err = run(nested(MAX_JSON_DEPTH + 1))
    assert err is not None and err.status == 400 and err.param and err.param.startswith("x.x.x")


def test_the_deepest_accepted_body_still_serializes_when_wrapped():
    """Onward re-embeds request values a few levels down (a tool's parameters inside a stored
    run event); orjson writes at most 255 levels, so even 150 levels of wrapping are fine."""
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(nested(256))
    orjson.dumps(nested(MAX_JSON_DEPTH + 150))


def test_nul_is_named_by_its_path_in_values_and_keys():
    assert run({"input": [{"content": "a\x00b"}]}).param == "input[0].content"  # type: ignore[union-attr]
    assert run({"metadata": {"k\x00": "v"}}).param == "metadata.k\\u0000"  # type: ignore[union-attr]
    assert run({"input": "a\\u0000b"}) is None  # an escaped backslash, not a NUL


@pytest.mark.parametrize("value, ok", [(INT_MAX, True), (INT_MIN, True), (INT_MAX + 1, False), (2**64 - 1, False), (1e30, True)])
def test_integers_fit_64_bits(value, ok):
    err = run({"max_output_tokens": value})
    assert (err is None) == ok
    if not ok:
        assert err.param == "max_output_tokens" and err.code == "integer_out_of_range"  # type: ignore[union-attr]
