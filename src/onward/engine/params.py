"""The validated parameters of `POST /v1/responses`, mirroring the spec.

Unknown keys are rejected (the api layer turns that into 400 `unknown_parameter`); item-level
checks with precise `param` paths happen in `context.normalize_input`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import invalid

INCLUDABLE = {
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
}


# The object forms of `tool_choice` in the SDK's types; a hosted tool Onward does not run
# (toolset.NOT_RUN) leaves the model's choice at "auto".
TOOL_CHOICE_TYPES = frozenset({"function", "custom", "allowed_tools", "file_search", "mcp", "shell", "apply_patch", "programmatic_tool_calling"}) | {
    "web_search_preview", "web_search_preview_2025_03_11", "computer", "computer_use", "computer_use_preview", "image_generation", "code_interpreter",
}

MAX_TOKENS = 1_000_000  # above any model's window: a bigger token count is a client mistake


class Strict(BaseModel):
    # strict: no lax coercion ("yes" is not a bool, "5" is not an int), as OpenAI validates
    model_config = ConfigDict(extra="forbid", strict=True)


class TextFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.type != "json_schema":
            return {"type": self.type}
        return {"type": "json_schema", "name": self.name, "schema": self.schema_, "strict": self.strict, "description": self.description}


class TextConfig(Strict):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class Reasoning(Strict):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None
    context: Literal["auto", "current_turn", "all_turns"] | None = None  # accepted, ignored
    mode: str | None = None  # accepted, ignored


class StreamOptions(Strict):
    include_obfuscation: bool | None = None


class CreateResponse(Strict):
    model: str | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    store: bool | None = True
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    background: bool | None = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = True
    max_output_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    max_tool_calls: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    text: TextConfig | None = None
    truncation: Literal["auto", "disabled"] | None = "disabled"
    metadata: dict[str, str] | None = None
    include: list[str] | None = None
    reasoning: Reasoning | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    service_tier: str | None = None
    prompt: dict[str, Any] | None = None
    context_management: list[dict[str, Any]] | None = None
    moderation: Any = None
    stream_id: str | None = None  # WebSocket lanes
    # Accepted and ignored (docs/guide.md, "Request fields"): no meaning on a self-hosted model.
    access_programs: dict[str, Any] | None = None
    background_options: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    client_metadata: dict[str, str] | None = None  # Codex CLI sends it on every request

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > 16:
            raise invalid("metadata may hold at most 16 keys.", "metadata")
        for key, val in value.items():
            if len(key) > 64:
                raise invalid(f"metadata key {key[:20]!r}… is longer than 64 characters.", "metadata")
            if len(val) > 512:
                raise invalid(f"metadata value for {key!r} is longer than 512 characters.", "metadata")
        return value

    @field_validator("include")
    @classmethod
    def _include(cls, value: list[str] | None) -> list[str] | None:
        for i, entry in enumerate(value or []):
            if entry not in INCLUDABLE:
                raise invalid(f"Invalid value for include: {entry!r}. Supported values: {sorted(INCLUDABLE)}.", f"include[{i}]")
        return value

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value in ("auto", "none", "required")):
            return value
        if isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in TOOL_CHOICE_TYPES:
            if value["type"] == "function" and not isinstance(value.get("name"), str):
                raise invalid("tool_choice of type 'function' needs a 'name'.", "tool_choice.name", "missing_required_parameter")
            return value
        raise invalid(f"Invalid value for tool_choice: {value!r}. Use 'auto', 'none', 'required' or {{'type': 'function', 'name': …}}.", "tool_choice")


class CompactRequest(Strict):
    model: str | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None  # accepted, ignored
    service_tier: str | None = None  # accepted, ignored
    image: dict[str, Any] | None = None  # accepted, ignored


class InputTokensRequest(Strict):
    """`POST /v1/responses/input_tokens`: the parts of a create request that make the input
    (openai: `responses.input_token_count_params`)."""

    model: str | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    text: TextConfig | None = None
    truncation: Literal["auto", "disabled"] | None = None
    personality: str | None = None  # accepted, ignored
