"""Every request field the official SDK and the spec know is accepted; the check follows the
installed SDK, so it stays true when the SDK grows."""

from __future__ import annotations

import gzip
import json
import typing
from pathlib import Path

import pytest
from openai.types.conversations.conversation_create_params import ConversationCreateParams
from openai.types.responses import ResponseIncludable
from openai.types.responses.response_compact_params import ResponseCompactParams
from openai.types.responses.response_create_params import ResponseCreateParamsBase
from openai.types.responses.tool_param import ToolParam

from onward.engine import toolset
from onward.engine.params import INCLUDABLE, CompactRequest, CreateResponse
from onward.errors import APIError

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "openai-openapi-subset.json.gz"  # OpenAI's spec subset, gzipped


def _keys(typed_dict) -> set[str]:
    return set(typed_dict.__required_keys__ | typed_dict.__optional_keys__)


def _spec_props(name: str) -> set[str]:
    schemas = json.loads(gzip.decompress(SPEC.read_bytes()))["components"]["schemas"]

    def walk(node) -> set[str]:
        out = set(node.get("properties", {}))
        for part in node.get("allOf", []):
            out |= walk(schemas[part["$ref"].rsplit("/", 1)[-1]]) if "$ref" in part else walk(part)
        return out

    return walk(schemas[name])


def test_create_accepts_every_sdk_field():
    accepted = set(CreateResponse.model_fields)
    assert _keys(ResponseCreateParamsBase) - accepted == set()
    assert {"stream", "client_metadata"} <= accepted  # streaming variants; Codex CLI


def test_compact_and_conversation_accept_every_sdk_field():
    assert _keys(ResponseCompactParams) - set(CompactRequest.model_fields) == set()
    assert _keys(ConversationCreateParams) == {"items", "metadata"}  # what ConversationsService.create allows


@pytest.mark.skipif(not SPEC.exists(), reason="the spec subset is not on this machine")
def test_accepts_every_spec_field():
    assert _spec_props("CreateResponse") - set(CreateResponse.model_fields) == set()
    assert _spec_props("CompactResponseMethodPublicBody") - set(CompactRequest.model_fields) == set()


def test_every_sdk_include_value_is_accepted():
    assert set(typing.get_args(ResponseIncludable)) - INCLUDABLE == set()


def test_unknown_field_is_still_rejected():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CreateResponse.model_validate({"model": "m", "input": "hi", "not_a_field": 1})


def _tool_types() -> set[str]:
    types = set()
    for member in typing.get_args(ToolParam):
        hint = typing.get_type_hints(member, include_extras=True).get("type")
        for arg in typing.get_args(hint):  # Required[Literal[...]]
            types |= set(typing.get_args(arg)) or {arg}
    return {t for t in types if isinstance(t, str)}


def test_every_sdk_tool_type_is_accepted():
    """Each tool type of the SDK's ToolParam either runs (function, custom, namespace,
    file_search, code_interpreter) or is echoed and left out of the model's view (toolset.NOT_RUN)."""
    runs = {"function", "custom", "namespace", "file_search", "code_interpreter"}
    assert _tool_types() - runs - toolset.NOT_RUN == set()


def test_toolset_flattens_namespace_and_custom():
    from onward.engine.context import normalize_tools

    tools = normalize_tools([
        {"type": "web_search", "external_web_access": False},
        {"type": "namespace", "name": "crm", "description": "CRM", "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}]},
        {"type": "custom", "name": "apply_diff", "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
    ])
    assert [t["type"] for t in tools] == ["web_search", "namespace", "custom"]
    functions = toolset.model_functions(tools)
    assert [f["name"] for f in functions] == ["crm__lookup", "apply_diff"]
    assert functions[1]["parameters"]["required"] == ["input"] and "lark" in functions[1]["description"]
    targets = toolset.targets(tools)
    assert targets["crm__lookup"] == toolset.Target("function", "lookup", "crm")
    assert targets["apply_diff"].kind == "custom"
    items = toolset.model_items([
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_diff", "input": "x"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"},
        {"type": "function_call", "call_id": "c2", "name": "lookup", "namespace": "crm", "arguments": "{}"},
    ])
    assert items[0] == {"type": "function_call", "call_id": "c1", "name": "apply_diff", "arguments": '{"input":"x"}'}
    assert items[1]["type"] == "function_call_output" and items[2]["name"] == "crm__lookup"
    assert toolset.custom_input('{"input": "a\\nb"}') == "a\nb"


def test_tool_errors_name_the_field():
    from onward.engine.context import normalize_tools

    with pytest.raises(APIError) as err:
        normalize_tools([{"type": "teleport"}])
    assert err.value.param == "tools[0].type"
    with pytest.raises(APIError) as err:
        normalize_tools([{"type": "namespace", "name": "n", "description": "d", "tools": [{"type": "web_search"}]}])
    assert err.value.param == "tools[0].tools[0].type"
    with pytest.raises(APIError) as err:
        normalize_tools([{"type": "function", "name": "n__f"}, {"type": "namespace", "name": "n", "description": "", "tools": [{"type": "function", "name": "f"}]}])
    assert err.value.param == "tools[1].name"


def test_input_tokens_accepts_every_sdk_field():
    from openai.types.responses.input_token_count_params import InputTokenCountParams

    from onward.engine.params import InputTokensRequest

    assert _keys(InputTokenCountParams) - set(InputTokensRequest.model_fields) == set()


def test_every_sdk_tool_choice_type_is_accepted():
    from openai.types.responses import response_create_params

    from onward.engine.params import TOOL_CHOICE_TYPES

    sdk = set()
    for member in typing.get_args(response_create_params.ToolChoice):
        hint = typing.get_type_hints(member).get("type") if hasattr(member, "__annotations__") else None
        for arg in typing.get_args(hint) if hint else ():
            sdk |= set(typing.get_args(arg)) or {arg}
    assert sdk - TOOL_CHOICE_TYPES == set()


def test_custom_input_streams_as_it_decodes():
    args = '{"input": "a\\"b\\u00e9\\ud83d\\ude00\\nc"}'
    seen = [toolset.partial_input(args[:n]) for n in range(len(args) + 1)]
    final = toolset.custom_input(args)
    assert final == 'a"b\u00e9\U0001f600\nc'
    for earlier, later in zip(seen, seen[1:], strict=False):
        assert later.startswith(earlier) and final.startswith(later)
    assert seen[-1] == final
    assert toolset.partial_input('{"other": 1}') == ""


def test_custom_and_namespace_shapes_are_checked():
    from onward.engine.context import normalize_tools

    bad = [
        ([{"type": "custom", "name": "c", "description": 3}], "tools[0].description"),
        ([{"type": "custom", "name": "c", "format": {"type": "grammar", "syntax": "ebnf", "definition": "x"}}], "tools[0].format"),
        ([{"type": "custom", "name": "c", "colour": "red"}], "tools[0].colour"),
        ([{"type": "namespace", "name": "n", "description": ["x"], "tools": [{"type": "function", "name": "f"}]}], "tools[0].description"),
        ([{"type": "namespace", "name": "n", "description": "d", "tools": []}], "tools[0].tools"),
        ([{"type": "namespace", "name": "n", "description": "d", "tools": [{"type": "function"}]}], "tools[0].tools[0].name"),
    ]
    for tools, param in bad:
        with pytest.raises(APIError) as err:
            normalize_tools(tools)
        assert err.value.status == 400 and err.value.param == param, (tools, err.value.param)
