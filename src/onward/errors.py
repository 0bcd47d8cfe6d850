"""The one error type every layer raises for a client-visible failure.

The api layer renders it in OpenAI's envelope: {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or _type_for(status)
        self.headers = headers or {}  # sent with the error (e.g. Retry-After on a 429)

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _type_for(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "invalid_request_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def invalid(message: str, param: str | None = None, code: str | None = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)


def not_found(message: str, param: str | None = None) -> APIError:
    return APIError(404, message, param=param, code=None)


def reject_unknown(obj: dict, allowed: set[str], where: str | None = None) -> None:
    """400 `unknown_parameter` naming the first key of `obj` not in `allowed` (as `where.key`)."""
    unknown = sorted(set(obj) - allowed)
    if unknown:
        param = f"{where}.{unknown[0]}" if where else unknown[0]
        raise invalid(f"Unknown parameter: '{param}'.", param, "unknown_parameter")


_UNION_TAGS = {"str", "int", "float", "bool", "none", "dict", "list"}


def _param(loc: tuple[Any, ...]) -> str:
    """A pydantic location as OpenAI names a parameter: `a.b[0].c`."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path"):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in str(part) or "-" in str(part) or part in _UNION_TAGS:  # pydantic union tags like 'list[dict[str,any]]'
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or None  # type: ignore[return-value]


def validation_error(errors: Any, prefix: str = "") -> APIError:
    """pydantic's first error (`ValidationError.errors()`) in OpenAI's wording, naming the
    field as a path (`input[0].content`), below `prefix` when given."""
    first = errors[0]
    param = _param(tuple(first.get("loc", ())))
    if prefix:
        param = f"{prefix}.{param}" if param and not param.startswith("[") else prefix + (param or "")
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return APIError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")
    if kind == "missing":
        return APIError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    if kind.endswith("_type") or kind in ("model_type", "dict_type", "list_type", "string_type", "bool_type", "int_type", "float_type", "union_tag_invalid"):
        return APIError(400, f"Invalid type for '{param}': {first.get('msg')}.", param=param, code="invalid_type")
    return APIError(400, f"Invalid value for '{param}': {first.get('msg')}.", param=param, code="invalid_value")
