"""Validated request bodies of the Assistants endpoints (unknown keys → 400 unknown_parameter)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..engine.params import MAX_TOKENS
from ..errors import invalid, validation_error

TOOL_TYPES = ("function", "file_search", "code_interpreter")
INCLUDABLE = ("step_details.tool_calls[*].file_search.results[*].content",)


class Strict(BaseModel):
    # strict: no lax coercion ("yes" is not a bool, "5" is not an int), as OpenAI validates
    model_config = ConfigDict(extra="forbid", strict=True)


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


class _FunctionDef(Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class _RankingOptions(Strict):
    ranker: Literal["auto", "default_2024_08_21"] | None = None
    score_threshold: float = Field(ge=0, le=1)


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
            try:
                _FunctionDef.model_validate(fn)
            except ValidationError as exc:
                raise validation_error(exc.errors(), f"{where}.function") from exc
            entry = {"type": "function", "function": {"name": fn["name"], "description": fn.get("description"), "parameters": fn.get("parameters"), "strict": fn.get("strict", False)}}
        elif kind == "file_search":
            fs = tool.get("file_search") or {}
            if not isinstance(fs, dict):
                raise invalid(f"Invalid type for '{where}.file_search': expected an object.", f"{where}.file_search", "invalid_type")
            n = fs.get("max_num_results")
            if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 50):
                raise invalid(f"Invalid value for '{where}.file_search.max_num_results': it must be between 1 and 50.", f"{where}.file_search.max_num_results")
            ranking = fs.get("ranking_options") or {"ranker": "default_2024_08_21", "score_threshold": 0.0}
            try:
                _RankingOptions.model_validate(ranking)
            except ValidationError as exc:
                raise validation_error(exc.errors(), f"{where}.file_search.ranking_options") from exc
            entry = {"type": "file_search", "file_search": {"max_num_results": n, "ranking_options": ranking}} if n else {"type": "file_search", "file_search": {"ranking_options": ranking}}
        else:
            entry = {"type": "code_interpreter"}
        out.append(entry)
    return out


class _CodeInterpreterResources(Strict):
    file_ids: list[str] | None = Field(default=None, max_length=20)


class _VectorStoreHelper(Strict):
    """`tool_resources.file_search.vector_stores[i]`: a vector store created with the thread."""

    file_ids: list[str] | None = Field(default=None, max_length=10000)
    chunking_strategy: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None

    _meta = field_validator("metadata", mode="before")(classmethod(lambda cls, v: check_metadata(v)))


class _FileSearchResources(Strict):
    vector_store_ids: list[str] | None = Field(default=None, max_length=1)
    vector_stores: list[_VectorStoreHelper] | None = Field(default=None, max_length=1)


class ToolResources(Strict):
    code_interpreter: _CodeInterpreterResources | None = None
    file_search: _FileSearchResources | None = None


def check_tool_resources(value: Any, param: str = "tool_resources") -> dict[str, Any] | None:
    """Typed check of `tool_resources` (400 naming the nested field); returns it as sent."""
    if value is None:
        return None
    try:
        checked = ToolResources.model_validate(value)
    except ValidationError as exc:
        raise validation_error(exc.errors(), param) from exc
    fs = checked.file_search
    if fs is not None and fs.vector_store_ids and fs.vector_stores:
        raise invalid(f"Use either '{param}.file_search.vector_store_ids' or '{param}.file_search.vector_stores', not both.", f"{param}.file_search")
    return value


class _JsonSchema(Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


def check_response_format(value: Any) -> Any:
    if value is None or value == "auto":
        return value
    if isinstance(value, dict) and value.get("type") in ("text", "json_object"):
        return {"type": value["type"]}
    if isinstance(value, dict) and value.get("type") == "json_schema":
        js = value.get("json_schema")
        if not isinstance(js, dict) or not js.get("name"):
            raise invalid("Missing required parameter: 'response_format.json_schema.name'.", "response_format.json_schema.name", "missing_required_parameter")
        try:
            _JsonSchema.model_validate(js)
        except ValidationError as exc:
            raise validation_error(exc.errors(), "response_format.json_schema") from exc
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


def check_run_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> None:
    """A run's tool_choice must name a tool the run has (else the run would fail later)."""
    if choice == "required" and not tools:
        raise invalid("tool_choice 'required' needs at least one tool in the run's 'tools'.", "tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("code_interpreter", "file_search"):
        if not any(t.get("type") == choice["type"] for t in tools):
            raise invalid(f"Invalid value for 'tool_choice': {choice['type']} is not among the run's tools.", "tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = choice["function"]["name"]
        if not any(t.get("type") == "function" and t["function"]["name"] == name for t in tools):
            raise invalid(f"Invalid value for 'tool_choice.function.name': no function named {name!r} in the run's tools.", "tool_choice.function.name")


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
    last_messages: int | None = Field(default=None, ge=1, le=MAX_TOKENS)


class RunCreate(_Settings):
    assistant_id: str
    stream: bool | None = False
    additional_instructions: str | None = None
    additional_messages: list[MessageParams] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    max_prompt_tokens: int | None = Field(default=None, ge=256, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
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
