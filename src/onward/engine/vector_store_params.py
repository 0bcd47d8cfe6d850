"""Vector Stores API request fields, checked: each function returns the value to use or raises
the 400 naming the field (OpenAI's limits and wording)."""

from __future__ import annotations

from typing import Any

from ..errors import APIError, invalid, reject_unknown
from ..retrieval import chunking

MAX_BATCH = 2000
MAX_STORE_FILES = 500
RANKERS = ("none", "auto", "default-2024-11-15")

FileSpec = tuple[str, dict[str, Any], dict[str, Any] | None]  # (file_id, chunking strategy, attributes)


def attributes(raw: Any, param: str = "attributes") -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise APIError(400, f"Invalid type for '{param}': expected an object of string keys.", param=param, code="invalid_type")
    if len(raw) > 16:
        raise invalid(f"'{param}' may hold at most 16 keys; it has {len(raw)}.", param)
    for key, value in raw.items():
        if len(key) > 64:
            raise invalid(f"'{param}' key {key[:20]!r}… is longer than 64 characters.", param)
        if isinstance(value, str):
            if len(value) > 512:
                raise invalid(f"'{param}.{key}' is longer than 512 characters.", f"{param}.{key}")
        elif not isinstance(value, bool | int | float):
            raise APIError(400, f"Invalid type for '{param}.{key}': values are strings, numbers or booleans.", param=f"{param}.{key}", code="invalid_type")
    return raw


def expires_after(raw: Any, param: str = "expires_after") -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise APIError(400, f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type")
    reject_unknown(raw, {"anchor", "days"}, param)
    if raw.get("anchor") != "last_active_at":
        raise invalid(f"Invalid value for '{param}.anchor': {raw.get('anchor')!r}. Supported values are: 'last_active_at'.", f"{param}.anchor")
    days = raw.get("days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        raise invalid(f"Invalid value for '{param}.days': {days!r}. It must be an integer between 1 and 365.", f"{param}.days")
    return {"anchor": "last_active_at", "days": days}


def name(raw: Any, param: str = "name") -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise APIError(400, f"Invalid type for '{param}': expected a string.", param=param, code="invalid_type")
    return raw


def file_ids(raw: Any, param: str, maximum: int) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(f, str) and f for f in raw):
        raise APIError(400, f"Invalid type for '{param}': expected an array of file ids.", param=param, code="invalid_type")
    if len(raw) > maximum:
        raise invalid(f"'{param}' holds {len(raw)} ids; at most {maximum} are allowed.", param, "array_above_max_length")
    return list(dict.fromkeys(raw))


def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None, "has_more": has_more}


def batch_specs(body: dict[str, Any]) -> tuple[list[FileSpec], str]:
    """A file batch's files as (file_id, strategy, attributes) specs, and the field that listed
    them ("files" or "file_ids")."""
    strategy = chunking.resolve_strategy(body.get("chunking_strategy"))
    shared = attributes(body.get("attributes"))
    specs: list[FileSpec]
    if body.get("files") is not None:
        files = body["files"]
        if not isinstance(files, list) or not files:
            raise invalid("'files' must be a non-empty array of {file_id, attributes?, chunking_strategy?}.", "files", "invalid_type")
        if len(files) > MAX_BATCH:
            raise invalid(f"'files' holds {len(files)} entries; at most {MAX_BATCH} are allowed.", "files", "array_above_max_length")
        specs = []
        for i, f in enumerate(files):
            if not isinstance(f, dict) or not isinstance(f.get("file_id"), str) or not f["file_id"]:
                raise invalid(f"Missing required parameter: 'files[{i}].file_id'.", f"files[{i}].file_id", "missing_required_parameter")
            reject_unknown(f, {"file_id", "attributes", "chunking_strategy"}, f"files[{i}]")
            specs.append((f["file_id"], chunking.resolve_strategy(f.get("chunking_strategy"), f"files[{i}].chunking_strategy"), attributes(f.get("attributes"), f"files[{i}].attributes")))
        return list({s[0]: s for s in specs}.values()), "files"
    if body.get("file_ids") is not None:
        ids = file_ids(body["file_ids"], "file_ids", MAX_BATCH)
        if not ids:
            raise invalid("'file_ids' must not be empty.", "file_ids", "empty_array")
        return [(fid, strategy, shared) for fid in ids], "file_ids"
    raise invalid("Missing required parameter: 'file_ids' (or 'files').", "file_ids", "missing_required_parameter")


def queries(raw: Any) -> list[str]:
    if isinstance(raw, str):
        found = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(q, str) for q in raw):
        found = list(raw)
    else:
        raise APIError(400, "Invalid type for 'query': expected a string or a non-empty array of strings.", param="query", code="invalid_type")
    if not any(q.strip() for q in found):
        raise invalid("Invalid value for 'query': it must not be empty.", "query", "empty_string")
    return found


def max_results(raw: Any) -> int:
    if raw is None:
        return 10
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 50:
        raise invalid(f"Invalid 'max_num_results': {raw!r}. It must be an integer between 1 and 50.", "max_num_results")
    return raw


def ranking(raw: Any) -> float | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise APIError(400, "Invalid type for 'ranking_options': expected an object.", param="ranking_options", code="invalid_type")
    reject_unknown(raw, {"ranker", "score_threshold"}, "ranking_options")
    ranker = raw.get("ranker")
    if ranker is not None and ranker not in RANKERS:
        raise invalid(f"Invalid value for 'ranking_options.ranker': {ranker!r}. Supported values are: {', '.join(RANKERS)}.", "ranking_options.ranker")
    threshold = raw.get("score_threshold")
    if threshold is None:
        return None
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
        raise invalid(f"Invalid 'ranking_options.score_threshold': {threshold!r}. It must be a number between 0 and 1.", "ranking_options.score_threshold")
    return float(threshold)
