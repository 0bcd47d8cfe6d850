"""Validated request bodies of the Assistants endpoints (unknown keys → 400 unknown_parameter)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import invalid, reject_unknown

TOOL_TYPES = ("function", "file_search", "code_interpreter")
INCLUDABLE = ("step_details.tool_calls[*].file_search.results[*].content",)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise invalid("'metadata' must be an object of string keys and string values.", "metadata", "invalid_type")
    if len(value) > 16:
        raise invalid("metadata may hold at most 16 keys.", "metadata")
    for key, val in value.items():
        if len(key) > 64 or len(val) > 512:
            raise invalid(f"metadata entry {key[:20]!r}: keys hold at most 64 characters, values 512.", "metadata")
    return value


def check_tools(tools: Any, param: str = "tools") -> list[dict[str, Any]] | None:
    """Assistants tools as the API echoes them: function, file_search, code_interpreter."""
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise invalid(f"Invalid type for '{param}': expected an array of tools.", param, "invalid_type")
    if len(tools) > 128:
        raise invalid(f"'{param}' holds {len(tools)} tools; at most 128 are allowed.", param, "array_above_max_length")
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"{param}[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind not in TOOL_TYPES:
            raise invalid(f"Invalid value for '{where}.type': {kind!r}. Supported values are: 'code_interpreter', 'function', and 'file_search'.", f"{where}.type")
        if kind == "function":
            fn = tool.get("function")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                raise invalid(f"Missing required parameter: '{where}.function.name'.", f"{where}.function.name", "missing_required_parameter")
            if fn["name"] in names:
                raise invalid(f"Duplicate function name {fn['name']!r} at '{where}.function.name'.", f"{where}.function.name")
            names.add(fn["name"])
            if fn.get("parameters") is not None and not isinstance(fn["parameters"], dict):
                raise invalid(f"Invalid type for '{where}.function.parameters': expected an object.", f"{where}.function.parameters", "invalid_type")
            reject_unknown(fn, {"name", "description", "parameters", "strict"}, f"{where}.function")
            entry = {"type": "function", "function": {"name": fn["name"], "description": fn.get("description"), "parameters": fn.get("parameters"), "strict": fn.get("strict", False)}}
        elif kind == "file_search":
            fs = tool.get("file_search") or {}
            if not isinstance(fs, dict):
                raise invalid(f"Invalid type for '{where}.file_search': expected an object.", f"{where}.file_search", "invalid_type")
            n = fs.get("max_num_results")
            if n is not None and (not isinstance(n, int) or not 1 <= n <= 50):
                raise invalid(f"Invalid value for '{where}.file_search.max_num_results': it must be between 1 and 50.", f"{where}.file_search.max_num_results")
            ranking = fs.get("ranking_options") or {"ranker": "default_2024_08_21", "score_threshold": 0.0}
            entry = {"type": "file_search", "file_search": {"max_num_results": n, "ranking_options": ranking}} if n else {"type": "file_search", "file_search": {"ranking_options": ranking}}
        else:
            entry = {"type": "code_interpreter"}
        out.append(entry)
    return out


def check_tool_resources(value: Any, param: str = "tool_resources") -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(f"Invalid type for '{param}': expected an object.", param, "invalid_type")
    reject_unknown(value, {"code_interpreter", "file_search"}, param)
    ci = value.get("code_interpreter")
    if ci is not None:
        ids = ci.get("file_ids") if isinstance(ci, dict) else None
        if ids is not None and (not isinstance(ids, list) or len(ids) > 20):
            raise invalid(f"'{param}.code_interpreter.file_ids' must be an array of at most 20 file ids.", f"{param}.code_interpreter.file_ids")
    fs = value.get("file_search")
    if fs is not None:
        if not isinstance(fs, dict):
            raise invalid(f"Invalid type for '{param}.file_search': expected an object.", f"{param}.file_search", "invalid_type")
        ids = fs.get("vector_store_ids")
        if ids is not None and (not isinstance(ids, list) or len(ids) > 1):
            raise invalid(f"'{param}.file_search.vector_store_ids' may hold at most 1 vector store.", f"{param}.file_search.vector_store_ids")
        helpers = fs.get("vector_stores")
        if helpers is not None and (not isinstance(helpers, list) or len(helpers) > 1):
            raise invalid(f"'{param}.file_search.vector_stores' may hold at most 1 vector store.", f"{param}.file_search.vector_stores")
        if ids and helpers:
            raise invalid(f"Use either '{param}.file_search.vector_store_ids' or '{param}.file_search.vector_stores', not both.", f"{param}.file_search")
    return value


def check_response_format(value: Any) -> Any:
    if value is None or value == "auto":
        return value
    if isinstance(value, dict) and value.get("type") in ("text", "json_object"):
        return {"type": value["type"]}
    if isinstance(value, dict) and value.get("type") == "json_schema":
        js = value.get("json_schema")
        if not isinstance(js, dict) or not js.get("name"):
            raise invalid("Missing required parameter: 'response_format.json_schema.name'.", "response_format.json_schema.name", "missing_required_parameter")
        if js.get("schema") is not None and not isinstance(js["schema"], dict):
            raise invalid("Invalid type for 'response_format.json_schema.schema': expected an object.", "response_format.json_schema.schema", "invalid_type")
        return {"type": "json_schema", "json_schema": {"name": js["name"], "description": js.get("description"), "schema": js.get("schema"), "strict": js.get("strict")}}
    raise invalid(f"Invalid value for 'response_format': {value!r}. Use 'auto', {{'type': 'text'}}, {{'type': 'json_object'}} or {{'type': 'json_schema', 'json_schema': {{…}}}}.", "response_format")


def check_tool_choice(value: Any) -> Any:
    if value is None or value in ("none", "auto", "required"):
        return value
    if isinstance(value, dict) and value.get("type") in TOOL_TYPES:
        if value["type"] == "function":
            fn = value.get("function")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise invalid("Missing required parameter: 'tool_choice.function.name'.", "tool_choice.function.name", "missing_required_parameter")
            return {"type": "function", "function": {"name": fn["name"]}}
        return {"type": value["type"]}
    raise invalid(f"Invalid value for 'tool_choice': {value!r}. Use 'none', 'auto', 'required' or {{'type': 'function', 'function': {{'name': …}}}}.", "tool_choice")


class _Settings(Strict):
    """Fields an assistant and a run share."""

    model: str | None = None
    instructions: str | None = Field(default=None, max_length=256000)
    tools: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    response_format: Any = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None

    _meta = field_validator("metadata", mode="before")(classmethod(lambda cls, v: check_metadata(v)))
    _tools = field_validator("tools", mode="before")(classmethod(lambda cls, v: check_tools(v)))
    _rf = field_validator("response_format", mode="before")(classmethod(lambda cls, v: check_response_format(v)))


class AssistantCreate(_Settings):
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=512)
    tool_resources: dict[str, Any] | None = None

    _tr = field_validator("tool_resources", mode="before")(classmethod(lambda cls, v: check_tool_resources(v)))


class MessageParams(Strict):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]
    attachments: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None

    _meta = field_validator("metadata", mode="before")(classmethod(lambda cls, v: check_metadata(v)))


class ThreadParams(Strict):
    messages: list[MessageParams] | None = None
    metadata: dict[str, str] | None = None
    tool_resources: dict[str, Any] | None = None

    _meta = field_validator("metadata", mode="before")(classmethod(lambda cls, v: check_metadata(v)))
    _tr = field_validator("tool_resources", mode="before")(classmethod(lambda cls, v: check_tool_resources(v)))


class ThreadUpdate(Strict):
    metadata: dict[str, str] | None = None
    tool_resources: dict[str, Any] | None = None

    _meta = field_validator("metadata", mode="before")(classmethod(lambda cls, v: check_metadata(v)))
    _tr = field_validator("tool_resources", mode="before")(classmethod(lambda cls, v: check_tool_resources(v)))


class MetadataUpdate(Strict):
    metadata: dict[str, str] | None = None

    _meta = field_validator("metadata", mode="before")(classmethod(lambda cls, v: check_metadata(v)))


class TruncationStrategy(Strict):
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(default=None, ge=1)


class RunCreate(_Settings):
    assistant_id: str
    stream: bool | None = False
    additional_instructions: str | None = None
    additional_messages: list[MessageParams] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    max_prompt_tokens: int | None = Field(default=None, ge=256)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    truncation_strategy: TruncationStrategy | None = None

    _tc = field_validator("tool_choice", mode="before")(classmethod(lambda cls, v: check_tool_choice(v)))


class CreateAndRun(RunCreate):
    thread: ThreadParams | None = None
    tool_resources: dict[str, Any] | None = None
    additional_instructions: None = None  # type: ignore[assignment]  # not accepted here
    additional_messages: None = None  # type: ignore[assignment]

    _tr = field_validator("tool_resources", mode="before")(classmethod(lambda cls, v: check_tool_resources(v)))


class ToolOutput(Strict):
    tool_call_id: str
    output: str = ""


class SubmitToolOutputs(Strict):
    tool_outputs: list[ToolOutput]
    stream: bool | None = False
