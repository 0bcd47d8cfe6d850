"""Assistants → Responses settings: the rules, and the Python/TypeScript renderings."""

from __future__ import annotations

from onward.migrate.convert import as_python, as_typescript, convert_all, settings

ANALYST = {
    "id": "asst_a1",
    "object": "assistant",
    "name": "Data analyst",
    "model": "gpt-4-turbo-preview",
    "instructions": "Analyse data.",
    "tools": [
        {"type": "code_interpreter"},
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "strict_fn", "parameters": {"type": "object", "properties": {}}, "strict": True}},
        {"type": "file_search", "file_search": {"max_num_results": 8}},
    ],
    "tool_resources": {"code_interpreter": {"file_ids": ["file-csv"]}, "file_search": {"vector_store_ids": ["vs_1"]}},
    "response_format": {"type": "json_object"},
    "temperature": 0.2,
    "top_p": 0.9,
    "metadata": {"team": "bi"},
    "reasoning_effort": "low",
}


def test_rules():
    conf, notes = settings(ANALYST)
    assert conf["model"] == "gpt-5.6-sol" and any("gpt-4-turbo-preview" in n and "2026-10-23" in n for n in notes)
    assert conf["instructions"] == "Analyse data."
    assert conf["tools"][0] == {"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file-csv"]}}
    assert conf["tools"][1]["strict"] is False and conf["tools"][2]["strict"] is True
    assert any("lookup" in n and "strict" in n for n in notes)
    assert conf["tools"][3] == {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 8}
    assert conf["text"] == {"format": {"type": "json_object"}}
    assert conf["temperature"] == 0.2 and conf["top_p"] == 0.9 and conf["reasoning"] == {"effort": "low"} and conf["metadata"] == {"team": "bi"}
    plain, _ = settings({"id": "asst_p", "model": "gpt-4o", "tools": [], "response_format": "auto"})
    assert plain == {"model": "gpt-4o"}
    schema, _ = settings({"id": "asst_s", "model": "gpt-4o", "response_format": {"type": "json_schema", "json_schema": {"name": "event", "schema": {"type": "object"}, "strict": True}}})
    assert schema["text"] == {"format": {"type": "json_schema", "name": "event", "schema": {"type": "object"}, "strict": True}}


def test_python_output_is_the_same_data():
    converted = convert_all([ANALYST, {"id": "asst_2", "name": "2nd bot!", "model": "gpt-4o"}])
    namespace: dict = {}
    exec(compile(as_python(converted), "settings.py", "exec"), namespace)
    assert namespace["DATA_ANALYST"] == converted[0]["settings"]
    assert namespace["A_2ND_BOT"] == {"model": "gpt-4o"}
    ts = as_typescript(converted)
    assert "export const DATA_ANALYST: ResponseCreateParamsNonStreaming = {" in ts and '"container": {' in ts


def test_assistants_sharing_a_name_get_distinct_constants():
    twins = convert_all([{"id": "asst_one", "name": "Math Tutor", "model": "gpt-4o"}, {"id": "asst_two", "name": "Math Tutor", "model": "gpt-4o-mini"}])
    namespace: dict = {}
    exec(compile(as_python(twins), "settings.py", "exec"), namespace)
    assert namespace["MATH_TUTOR_ASST_ONE"]["model"] == "gpt-4o" and namespace["MATH_TUTOR_ASST_TWO"]["model"] == "gpt-4o-mini"
    assert as_typescript(twins).count("export const MATH_TUTOR_ASST_") == 2
