"""Typed checks of input items and their content parts, mirroring the spec's shapes.

`context.normalize_input` builds the stored form; these models only make sure every field it
and the providers read has the type the spec gives it, so a wrong type is a 400 naming the
field before anything runs, never a crash later. Unknown keys are tolerated (items echoed back
from outputs carry fields Onward does not read); types are strict (no "5" for 5).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import APIError, invalid, validation_error

MAX_ID_LENGTH = 64  # item ids are keyed in columns of this width on both databases
Status = Literal["in_progress", "completed", "incomplete"]
ItemId = str


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class InputText(_Shape):
    type: Literal["input_text"]
    text: str


class OutputText(_Shape):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


class Refusal(_Shape):
    type: Literal["refusal"]
    refusal: str


class InputImage(_Shape):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] | None = None


class InputFile(_Shape):
    type: Literal["input_file"]
    file_id: str | None = None
    filename: str | None = None
    file_data: str | None = None
    file_url: str | None = None


class InputAudio(_Shape):
    type: Literal["input_audio"]
    input_audio: dict[str, Any]


PARTS: dict[str, type[_Shape]] = {
    "input_text": InputText,
    "output_text": OutputText,
    "refusal": Refusal,
    "input_image": InputImage,
    "input_file": InputFile,
    "input_audio": InputAudio,
}


class _Item(_Shape):
    id: ItemId | None = Field(default=None, max_length=MAX_ID_LENGTH)
    status: Status | None = None


class Message(_Item):
    type: Literal["message"] | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[dict[str, Any]]
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCall(_Item):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str


class FunctionCallOutput(_Item):
    type: Literal["function_call_output"]
    call_id: str
    output: str | list[dict[str, Any]]


class Compaction(_Item):
    type: Literal["compaction"]
    encrypted_content: str


class SummaryText(_Shape):
    type: Literal["summary_text"]
    text: str


class Reasoning(_Item):
    type: Literal["reasoning"]
    summary: list[SummaryText] = []
    content: list[dict[str, Any]] | None = None
    encrypted_content: str | None = None


class FileSearchCall(_Item):
    type: Literal["file_search_call"]
    queries: list[str] = []
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"] | None = None  # type: ignore[assignment]
    results: list[dict[str, Any]] | None = None


class CodeInterpreterCall(_Item):
    type: Literal["code_interpreter_call"]
    code: str | None = None
    container_id: str | None = None
    outputs: list[dict[str, Any]] | None = None
    status: Literal["in_progress", "completed", "incomplete", "interpreting", "failed"] | None = None  # type: ignore[assignment]


class FunctionTool(_Shape):
    type: Literal["function"]
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class CustomTool(_Shape):
    type: Literal["custom"]
    name: str
    description: str | None = None
    format: dict[str, Any] | None = None


class CustomToolCall(_Item):
    type: Literal["custom_tool_call"]
    call_id: str
    name: str
    input: str
    namespace: str | None = None


class CustomToolCallOutput(_Item):
    type: Literal["custom_tool_call_output"]
    call_id: str
    output: str | list[dict[str, Any]]


class ItemReference(_Shape):
    type: Literal["item_reference"]
    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)


class _AnyItem(_Shape):
    """Items Onward echoes back without reading them: only the id is keyed in a column."""

    id: ItemId | None = Field(default=None, max_length=MAX_ID_LENGTH)


ITEMS: dict[str, type[_Item]] = {
    "message": Message,
    "function_call": FunctionCall,
    "function_call_output": FunctionCallOutput,
    "compaction": Compaction,
    "reasoning": Reasoning,
    "file_search_call": FileSearchCall,
    "code_interpreter_call": CodeInterpreterCall,
    "custom_tool_call": CustomToolCall,
    "custom_tool_call_output": CustomToolCallOutput,
}


def check(model: type[BaseModel], value: Any, where: str) -> None:
    """Validate `value` against `model`; a mismatch is a 400 naming `where.<field>`."""
    try:
        model.model_validate(value)
    except ValidationError as exc:
        raise validation_error(exc.errors(), where) from exc


def check_item(raw: Any, where: str) -> str:
    """Type-check one input item (and its content parts); returns its type."""
    if not isinstance(raw, dict):
        raise APIError(400, f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type")
    kind = raw.get("type", "message" if "role" in raw else None)
    if kind is not None and not isinstance(kind, str):
        raise APIError(400, f"Invalid type for '{where}.type': expected a string.", param=f"{where}.type", code="invalid_type")
    if kind == "item_reference":
        check(ItemReference, raw, where)
        return kind
    check(ITEMS.get(kind or "", _AnyItem), raw, where)  # an unknown kind: the caller names what it supports
    parts = raw.get("content") if kind == "message" else raw.get("output") if kind in ("function_call_output", "custom_tool_call_output") else None
    for j, part in enumerate(parts if isinstance(parts, list) else []):
        at = f"{where}.{'content' if kind == 'message' else 'output'}[{j}]"
        part_kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(part_kind, str) or part_kind not in PARTS:
            shown = part_kind if isinstance(part_kind, str) else type(part).__name__
            raise invalid(f"Invalid content part type {shown!r} at '{at}'. Supported: {', '.join(PARTS)}.", f"{at}.type")
        check(PARTS[part_kind], part, at)
    return kind or ""


def check_unique_ids(items: list[dict[str, Any]], taken: set[Any] | None = None, param: str = "input") -> None:
    """No two items share an id, and none reuses an id in `taken` (the history the items join).
    400 naming `input[i].id`, in OpenAI's wording ("Duplicate item found with id …")."""
    seen: set[Any] = set(taken or ())
    for i, item in enumerate(items):
        item_id = item.get("id")
        if item_id in seen:
            raise invalid(f"Duplicate item found with id {item_id}.", f"{param}[{i}].id", "duplicate_item")
        seen.add(item_id)
