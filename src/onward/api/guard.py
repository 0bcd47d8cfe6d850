"""Input guards every request passes before any handler logic: values Onward could accept but
not keep are refused up front with a 400 naming the field.

- JSON nested deeper than `MAX_JSON_DEPTH`: orjson reads any depth but writes at most 255
  nested containers ("Recursion limit reached"), and Onward re-embeds request values a few
  levels down (a tool's `parameters` inside a stored run event), so a deep body would fail
  only when stored: after the model ran.
- NUL characters (U+0000) in any string: PostgreSQL text cannot hold them, and OpenAI refuses
  them too. Checked in JSON bodies (keys and values), path and query parameters, and multipart
  fields and file names.
- Integers outside the signed 64-bit range: the widest database column is BIGINT, and orjson
  cannot write integers past 2^64.

`KeepAlive` keeps kept-alive connections open across error answers.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import HTTPConnection

from ..errors import APIError

MAX_JSON_DEPTH = 64  # nested objects/arrays in a request body; orjson writes at most 255
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_BIG_INT = re.compile(rb"\d{19}")  # any integer outside int64 has at least 19 digits


PATH_DEPTH = 8  # a too-deep value is named by its first levels: `tools[0].parameters.a.b…`


def _join(path: str, key: Any, depth: int) -> str:
    if depth >= PATH_DEPTH:
        return path
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key).replace("\x00", "\\u0000")
    return f"{path}.{key}" if path else key


def nul_error(param: str) -> APIError:
    return APIError(
        400,
        f"Invalid value for '{param}': strings may not contain the null character (\\u0000).",
        param=param,
        code="invalid_value",
    )


def check_json(raw: bytes, body: Any) -> None:
    """Refuse a parsed JSON body holding a NUL character, a nesting deeper than MAX_JSON_DEPTH,
    or an integer outside int64. `raw` is the text it was parsed from: cheap byte scans skip
    the walk for ordinary bodies. Raises APIError 400 naming the first offending path."""
    nul = b"\\u0000" in raw
    deep = raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH
    big = _BIG_INT.search(raw) is not None
    if not (nul or deep or big):
        return
    stack: list[tuple[Any, str, int]] = [(body, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep(path)
            for key, child in value.items():
                where = _join(path, key, depth)
                if nul and "\x00" in key:
                    raise nul_error(where)
                stack.append((child, where, depth + 1))
        elif isinstance(value, list):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep(path)
            stack.extend((child, _join(path, i, depth), depth + 1) for i, child in enumerate(value))
        elif isinstance(value, str):
            if nul and "\x00" in value:
                raise nul_error(path or "body")
        elif isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX:
            raise APIError(400, f"Invalid value for '{path or 'body'}': integer {value} is out of range (64-bit signed).", param=path or None, code="integer_out_of_range")


def _too_deep(path: str) -> APIError:
    return APIError(
        400,
        f"Invalid value for '{path or 'body'}': JSON is nested more than {MAX_JSON_DEPTH} levels deep (objects and arrays).",
        param=path or None,
        code="invalid_value",
    )


_SPEC_NAMES = {"conv_id": "conversation_id", "vs_id": "vector_store_id"}  # the spec's path names


async def no_nul_in_url(conn: HTTPConnection) -> None:
    """A global dependency: path and query parameters without NUL characters (400 naming it)."""
    for name, value in conn.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise nul_error(_SPEC_NAMES.get(name, name))
    if "%00" in conn.url.query:
        for name, value in conn.query_params.multi_items():
            if "\x00" in name or "\x00" in value:
                raise nul_error(name.replace("\x00", ""))


class KeepAlive:
    """ASGI middleware that keeps a kept-alive connection open across error answers.

    uvicorn (httptools) already skips what a 4xx left unread of a request body and keeps the
    connection; but Starlette re-raises an unexpected error after its 500 went out (logged by
    api.errors), and uvicorn closes the connection on any error that reaches it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        complete = False

        async def sending(message: dict) -> None:
            nonlocal complete
            await send(message)
            complete = message["type"] == "http.response.body" and not message.get("more_body", False)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if not complete:
                raise
        return None
