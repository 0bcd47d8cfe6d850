"""/openapi.json tells the truth: every route's request body and answer schema, OpenAI's error
envelope instead of FastAPI's 422, and a valid OpenAPI 3.1 document."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate

from tests.conftest import SCRIPT, Server

NO_BODY = ("/cancel",)  # POSTs that take no body


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi")
    srv = Server(tmp, f"sqlite:///{tmp / 'onward.db'}", 'default = "scripted"\n' + SCRIPT).start()
    try:
        yield httpx.get(f"http://127.0.0.1:{srv.port}/openapi.json", timeout=30).json()
    finally:
        srv.stop()


def _operations(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_document_is_valid_openapi(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    schemas = doc["components"]["schemas"]
    for ref in set(_refs(doc)):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_every_route_has_its_body_answer_and_errors(doc):
    ops = list(_operations(doc))
    assert len(ops) >= 60
    for method, path, op in ops:
        where = f"{method.upper()} {path}"
        ok = op["responses"]["200"]["content"]
        assert all(media.get("schema") for media in ok.values()), where
        assert set(op["responses"]) >= {"200", "400", "404"}, where
        assert "422" not in op["responses"], where
        for status, answer in op["responses"].items():
            if status != "200":
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}, where
        if method == "post" and not path.endswith(NO_BODY):
            assert op["requestBody"]["required"] is True and op["requestBody"]["content"], where
        if method in ("get", "delete"):
            assert "requestBody" not in op, where
    text = str(doc)
    assert "422" not in text and "HTTPValidationError" not in text


def test_specific_shapes(doc):
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    upload = paths["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["file"] == {"type": "string", "format": "binary", "description": upload["properties"]["file"]["description"]}
    assert set(upload["required"]) == {"file", "purpose"} and "assistants" in upload["properties"]["purpose"]["enum"]
    create = paths["/v1/responses"]["post"]
    assert set(create["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    body = schemas[create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert body["additionalProperties"] is False and {"model", "input", "tools", "stream", "background"} <= set(body["properties"])
    answer = schemas[create["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"id", "object", "output", "usage", "status"} <= set(answer["properties"])  # the SDK's Response model
    count = paths["/v1/responses/input_tokens"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(schemas[count["$ref"].rsplit("/", 1)[1]]["properties"]) == {"object", "input_tokens"}
    # bodies checked by hand are described by the openai params types, without path parameters
    vs_file = paths["/v1/vector_stores/{vs_id}/files/{file_id}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    props = schemas[vs_file["$ref"].rsplit("/", 1)[1]]["properties"]
    assert "attributes" in props and "vector_store_id" not in props
    assert "*/*" in paths["/v1/files/{file_id}/content"]["get"]["responses"]["200"]["content"]
    assert "409" in paths["/v1/files/{file_id}/content"]["get"]["responses"]
