"""The code_interpreter hosted tool: how the request names it, what the model is offered, and
what the model reads back after a call."""

from __future__ import annotations

from typing import Any

from ...errors import invalid, reject_unknown

NAME = "code_interpreter"
DESCRIPTION = (
    "Run Python 3 code in a stateful Jupyter kernel (variables persist between calls). "
    "numpy, pandas and matplotlib are installed; there is no network. Files the user gave are "
    "in /mnt/data; save files you make there. Print what you want to see."
)
PARAMETERS = {
    "type": "object",
    "properties": {"code": {"type": "string", "description": "The Python code to run."}},
    "required": ["code"],
    "additionalProperties": False,
}
INCLUDE_OUTPUTS = "code_interpreter_call.outputs"
MAX_MODEL_CHARS = 4000  # of a call's logs the model reads back


def normalize(tool: dict[str, Any], where: str) -> dict[str, Any]:
    """`{"type": "code_interpreter", "container": "cntr_…" | {"type": "auto", "file_ids", "memory_limit"}}`
    echoed with its defaults. 400 naming the field otherwise."""
    reject_unknown(tool, {"type", "container"}, where)
    container = tool.get("container")
    if isinstance(container, str):
        if not container:
            raise invalid(f"'{where}.container' must be a container id or {{'type': 'auto'}}.", f"{where}.container")
        return {"type": NAME, "container": container}
    if not isinstance(container, dict):
        raise invalid(f"Missing required parameter: '{where}.container' (a container id or {{'type': 'auto'}}).", f"{where}.container", "missing_required_parameter")
    reject_unknown(container, {"type", "file_ids", "memory_limit", "network_policy"}, f"{where}.container")
    if container.get("type") != "auto":
        raise invalid(f"Invalid value for '{where}.container.type': {container.get('type')!r}. Supported values are: auto.", f"{where}.container.type")
    file_ids = container.get("file_ids") or []
    if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
        raise invalid(f"'{where}.container.file_ids' must be an array of file ids.", f"{where}.container.file_ids")
    out: dict[str, Any] = {"type": "auto", "file_ids": file_ids}
    if container.get("memory_limit") is not None:
        if container["memory_limit"] not in ("1g", "4g", "16g", "64g"):
            raise invalid(f"Invalid value for '{where}.container.memory_limit': {container['memory_limit']!r}. Supported values are: 1g, 4g, 16g, 64g.", f"{where}.container.memory_limit")
        out["memory_limit"] = container["memory_limit"]
    if container.get("network_policy") is not None:
        out["network_policy"] = container["network_policy"]
    return {"type": NAME, "container": out}


def as_function() -> dict[str, Any]:
    return {"type": "function", "name": NAME, "description": DESCRIPTION, "parameters": PARAMETERS, "strict": True}


def code_of(arguments: str) -> str:
    """The code in a call's arguments: `{"code": …}`, or the raw text when a model sent code
    instead of JSON."""
    import orjson

    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("code"), str):
        return value["code"]
    return arguments if not isinstance(value, str) else value


def model_text(logs: str, files: list[dict[str, Any]], error: bool) -> str:
    """What the model reads after a call: the output (trimmed) and the files written."""
    text = logs.strip() or ("(no output)" if not error else "(the code failed without output)")
    if len(text) > MAX_MODEL_CHARS:
        text = text[: MAX_MODEL_CHARS // 2] + "\n…\n" + text[-MAX_MODEL_CHARS // 2 :]
    if files:
        text += "\n\nFiles written: " + ", ".join(f["path"] for f in files)
    return text
