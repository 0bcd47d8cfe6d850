"""No input a client can send gives a 5xx (issue 8, item 4), on SQLite and PostgreSQL.

A table of hostile inputs, each kind found in the wild, sent raw (httpx: most are requests the
SDK would refuse to build) to a live server on both databases: each answers 400 (404 for an
unknown path id) in OpenAI's envelope naming the field, stores nothing, and leaves the server
and the kept-alive connection healthy. Then a spec-driven loop sends wrong-typed values for
every top-level and nested field of every JSON body in the reference spec, and asserts no 5xx.
"""

from __future__ import annotations

import copy
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "openai-openapi-subset.json.gz"  # OpenAI's spec, the subset Onward serves
DEEP = 80  # levels: more than Onward accepts (64); orjson itself writes at most 255


def deep_object(levels: int = DEEP) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        value = {"type": "object", "properties": {"x": value}}
    return value


def deep_list(levels: int = DEEP) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


@dataclass
class Case:
    name: str
    method: str
    path: str  # below /v1, formatted with the world's ids
    body: Any = None  # JSON-encoded when not None
    param: str | None = None  # the expected `param`; a trailing "*" matches a prefix
    status: int = 400
    raw: bytes | None = None  # a body sent as is
    headers: dict[str, str] = field(default_factory=dict)


def multipart(filename: bytes, purpose: bytes = b"assistants", data: bytes = b"hello", fields: dict[bytes, bytes] | None = None) -> tuple[bytes, dict[str, str]]:
    """A raw multipart upload (httpx would percent-encode a NUL in the file name)."""
    body = b""
    for name, value in {b"purpose": purpose, **(fields or {})}.items():
        body += b'--XB\r\nContent-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value + b"\r\n"
    body += b'--XB\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\nContent-Type: text/plain\r\n\r\n' + data + b"\r\n--XB--\r\n"
    return body, {"content-type": "multipart/form-data; boundary=XB"}


def msg(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text, **extra}


NUL = "a\u0000b"
BIG = 2**63  # one past the largest BIGINT
FC = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
VS_TOOL = {"type": "file_search", "vector_store_ids": ["{vs}"]}
FN_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}


def _cases() -> list[Case]:
    R = "/responses"
    out = [
        # -- Responses: nested values of the wrong type
        Case("item type is an object", "POST", R, {"model": "scripted", "input": [{"type": {}, "role": "user", "content": "hi"}]}, "input[0].type"),
        Case("item type is a list", "POST", R, {"model": "scripted", "input": [{"type": ["message"], "role": "user", "content": "hi"}]}, "input[0].type"),
        Case("content part text is a number", "POST", R, {"model": "scripted", "input": [msg(content=[{"type": "input_text", "text": 5}])]}, "input[0].content[0].text"),
        Case("content part type is an object", "POST", R, {"model": "scripted", "input": [msg(content=[{"type": {"a": 1}}])]}, "input[0].content[0].type"),
        Case("image detail unknown", "POST", R, {"model": "scripted", "input": [msg(content=[{"type": "input_image", "image_url": "http://x/y.png", "detail": 7}])]}, "input[0].content[0].detail"),
        Case("function_call arguments is an object", "POST", R, {"model": "scripted", "input": [{**FC, "arguments": {"a": 1}}]}, "input[0].arguments"),
        Case("function_call_output output is a number", "POST", R, {"model": "scripted", "input": [FC, {"type": "function_call_output", "call_id": "call_1", "output": 5}]}, "input[1].output"),
        Case("reasoning summary holds numbers", "POST", R, {"model": "scripted", "input": [{"type": "reasoning", "id": "rs_1", "summary": [5]}, msg()]}, "input[0].summary[0]"),
        Case("file_search_call queries hold numbers", "POST", R, {"model": "scripted", "input": [{"type": "file_search_call", "id": "fs_1", "queries": [1], "status": "completed"}, msg()]}, "input[0].queries[0]"),
        Case("item status is an object", "POST", R, {"model": "scripted", "input": [msg(status={})]}, "input[0].status"),
        Case("tool is a number", "POST", R, {"model": "scripted", "input": "hi", "tools": [5]}, "tools[0]"),
        Case("function tool strict is a string", "POST", R, {"model": "scripted", "input": "hi", "tools": [{"type": "function", "name": "f", "strict": "yes"}]}, "tools[0].strict"),
        Case("file_search ranking_options is a string", "POST", R, {"model": "scripted", "input": "hi", "tools": [{**VS_TOOL, "ranking_options": "x"}]}, "tools[0].ranking_options"),
        Case("file_search filters type is an object", "POST", R, {"model": "scripted", "input": "hi", "tools": [{**VS_TOOL, "filters": {"type": {}, "key": "a", "value": 1}}]}, "tools[0].filters.type"),
        Case("text.format name is a number", "POST", R, {"model": "scripted", "input": "hi", "text": {"format": {"type": "json_schema", "name": 5, "schema": {"type": "object"}}}}, "text.format.name"),
        # -- Responses: item ids
        Case("integer item id", "POST", R, {"model": "scripted", "input": [msg(id=5)]}, "input[0].id"),
        Case("item id longer than the column", "POST", R, {"model": "scripted", "input": [msg(id="msg_" + "x" * 100)]}, "input[0].id"),
        Case("duplicate ids in one request", "POST", R, {"model": "scripted", "input": [msg(id="msg_twice"), msg(id="msg_twice")]}, "input[1].id"),
        Case("id again after previous_response_id", "POST", R, {"model": "scripted", "previous_response_id": "{resp}", "input": [msg(id="msg_hostile_prev")]}, "input[0].id"),
        Case("id again in the conversation", "POST", R, {"model": "scripted", "conversation": "{conv}", "input": [msg(id="msg_hostile_conv")]}, "input[0].id"),
        # -- Responses: JSON deeper than the serializer handles
        Case("deep tool parameters", "POST", R, {"model": "scripted", "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": deep_object()}]}, "tools[0].parameters*"),
        Case("deep json_schema", "POST", R, {"model": "scripted", "input": "hi", "text": {"format": {"type": "json_schema", "name": "x", "schema": deep_object()}}}, "text.format.schema*"),
        Case("deep function_call_output", "POST", R, {"model": "scripted", "input": [FC, {"type": "function_call_output", "call_id": "call_1", "output": deep_list()}]}, "input[1].output*"),
        # -- Responses: NUL characters
        Case("NUL in input", "POST", R, {"model": "scripted", "input": NUL}, "input"),
        Case("NUL in instructions", "POST", R, {"model": "scripted", "input": "hi", "instructions": NUL}, "instructions"),
        Case("NUL in metadata", "POST", R, {"model": "scripted", "input": "hi", "metadata": {"k": NUL}}, "metadata.k"),
        Case("NUL in a metadata key", "POST", R, {"model": "scripted", "input": "hi", "metadata": {NUL: "v"}}, "metadata.a\\u0000b"),
        Case("NUL in the response id", "GET", R + "/resp_%00x", None, "response_id"),
        Case("NUL in an input_items cursor", "GET", R + "/{resp}/input_items?after=msg%00", None, "after"),
        # -- Responses: absurd numbers
        Case("max_output_tokens 2^63", "POST", R, {"model": "scripted", "input": "hi", "max_output_tokens": BIG}, "max_output_tokens"),
        Case("max_output_tokens 2^62", "POST", R, {"model": "scripted", "input": "hi", "max_output_tokens": 2**62}, "max_output_tokens"),
        Case("stream 'yes'", "POST", R, {"model": "scripted", "input": "hi", "stream": "yes"}, "stream"),
        Case("background 1", "POST", R, {"model": "scripted", "input": "hi", "background": 1}, "background"),
        Case("temperature as a string", "POST", R, {"model": "scripted", "input": "hi", "temperature": "1"}, "temperature"),
        Case("starting_after past INTEGER", "GET", R + "/{resp}?stream=true&starting_after=99999999999999", None, "starting_after"),
        Case("compact item type is an object", "POST", R + "/compact", {"model": "scripted", "input": [{"type": {}}]}, "input[0].type"),
        # -- Conversations
        Case("conversation item type is an object", "POST", "/conversations", {"items": [{"type": {}, "role": "user", "content": "x"}]}, "items[0].type"),
        Case("conversation duplicate ids", "POST", "/conversations", {"items": [msg(id="msg_c2"), msg(id="msg_c2")]}, "items[1].id"),
        Case("conversation item next to a reference to it", "POST", "/conversations", {"items": [msg(id="msg_hostile_prev"), {"type": "item_reference", "id": "msg_hostile_prev"}]}, "items[1].id"),
        Case("item_reference id a number", "POST", R, {"model": "scripted", "input": [{"type": "item_reference", "id": 5}]}, "input[0].id"),
        Case("conversation item id again", "POST", "/conversations/{conv}/items", {"items": [msg(id="msg_hostile_conv")]}, "items[0].id"),
        Case("conversation integer item id", "POST", "/conversations/{conv}/items", {"items": [msg(id=7)]}, "items[0].id"),
        Case("conversation metadata value a number", "POST", "/conversations", {"metadata": {"a": 5}}, "metadata"),
        Case("NUL in conversation metadata", "POST", "/conversations", {"metadata": {"a": NUL}}, "metadata.a"),
        Case("NUL in the conversation id", "GET", "/conversations/conv_%00", None, "conversation_id"),
        Case("NUL in an item id", "GET", "/conversations/{conv}/items/msg_%00", None, "item_id"),
        Case("NUL in an items cursor", "GET", "/conversations/{conv}/items?after=x%00", None, "after"),
        Case("deep conversation item", "POST", "/conversations/{conv}/items", {"items": [msg(content=[{"type": "input_text", "text": "x", "extra": deep_list()}])]}, "items[0].content[0].extra*"),
        # -- Files
        Case("NUL in an uploaded file name", "POST", "/files", None, "file", raw=multipart(b"a\x00b.txt")[0], headers=multipart(b"")[1]),
        Case("absurd file name", "POST", "/files", None, "file", raw=multipart(b"n" * 5000 + b".txt")[0], headers=multipart(b"")[1]),
        Case("NUL in purpose", "POST", "/files", None, "purpose", raw=multipart(b"a.txt", b"assi\x00stants")[0], headers=multipart(b"")[1]),
        Case("expires_after seconds past int64", "POST", "/files", None, "expires_after.seconds", raw=multipart(b"a.txt", fields={b"expires_after[anchor]": b"created_at", b"expires_after[seconds]": b"99999999999999999999999"})[0], headers=multipart(b"")[1]),
        Case("expires_after seconds not a number", "POST", "/files", None, "expires_after.seconds", raw=multipart(b"a.txt", fields={b"expires_after[anchor]": b"created_at", b"expires_after[seconds]": b"1e5"})[0], headers=multipart(b"")[1]),
        Case("NUL in the file id", "GET", "/files/file-%00", None, "file_id"),
        Case("NUL in a files cursor", "GET", "/files?after=file%00", None, "after"),
        Case("NUL in purpose filter", "GET", "/files?purpose=assistants%00", None, "purpose"),
        # -- Vector stores
        Case("NUL in a vector store name", "POST", "/vector_stores", {"name": NUL}, "name"),
        Case("vector store name a number", "POST", "/vector_stores", {"name": 5}, "name"),
        Case("vector store metadata value a list", "POST", "/vector_stores", {"metadata": {"a": []}}, "metadata"),
        Case("vector store expires_after days 2^63", "POST", "/vector_stores", {"expires_after": {"anchor": "last_active_at", "days": BIG}}, "expires_after.days"),
        Case("NUL in the vector store id", "GET", "/vector_stores/vs_%00", None, "vector_store_id"),
        Case("NUL in a vector stores cursor", "GET", "/vector_stores?after=vs%00", None, "after"),
        Case("search query an object", "POST", "/vector_stores/{vs}/search", {"query": {"a": 1}}, "query"),
        Case("vector store file_id a number", "POST", "/vector_stores/{vs}/files", {"file_id": 5}, "file_id"),
        Case("NUL in a vector store file id", "GET", "/vector_stores/{vs}/files/file-%00", None, "file_id"),
        # -- Assistants
        Case("vector_store_ids holding objects", "POST", "/assistants", {"model": "scripted", "tool_resources": {"file_search": {"vector_store_ids": [{}]}}}, "tool_resources.file_search.vector_store_ids[0]"),
        Case("vector_store_ids holding numbers", "POST", "/assistants", {"model": "scripted", "tool_resources": {"file_search": {"vector_store_ids": [5]}}}, "tool_resources.file_search.vector_store_ids[0]"),
        Case("vector_stores entries not objects", "POST", "/assistants", {"model": "scripted", "tool_resources": {"file_search": {"vector_stores": ["x"]}}}, "tool_resources.file_search.vector_stores[0]"),
        Case("code_interpreter file_ids numbers", "POST", "/assistants", {"model": "scripted", "tool_resources": {"code_interpreter": {"file_ids": [1]}}}, "tool_resources.code_interpreter.file_ids[0]"),
        Case("json_schema name a number", "POST", "/assistants", {"model": "scripted", "response_format": {"type": "json_schema", "json_schema": {"name": 5, "schema": {}}}}, "response_format.json_schema.name"),
        Case("deep function parameters", "POST", "/assistants", {"model": "scripted", "tools": [{"type": "function", "function": {"name": "f", "parameters": deep_object()}}]}, "tools[0].function.parameters*"),
        Case("function strict 'yes'", "POST", "/assistants", {"model": "scripted", "tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}]}, "tools[0].function.strict"),
        Case("ranking_options a string", "POST", "/assistants", {"model": "scripted", "tools": [{"type": "file_search", "file_search": {"ranking_options": "x"}}]}, "tools[0].file_search.ranking_options"),
        Case("NUL in an assistant name", "POST", "/assistants", {"model": "scripted", "name": NUL}, "name"),
        Case("assistant model a number", "POST", "/assistants", {"model": 5}, "model"),
        Case("modify: vector_stores entries numbers", "POST", "/assistants/{asst}", {"tool_resources": {"file_search": {"vector_stores": [5]}}}, "tool_resources.file_search.vector_stores[0]"),
        Case("NUL in the assistant id", "GET", "/assistants/asst_%00", None, "assistant_id"),
        Case("NUL in an assistants cursor", "GET", "/assistants?after=asst%00", None, "after"),
        # -- Threads and messages
        Case("thread vector_store_ids numbers", "POST", "/threads", {"tool_resources": {"file_search": {"vector_store_ids": [5]}}}, "tool_resources.file_search.vector_store_ids[0]"),
        Case("NUL in a thread message", "POST", "/threads", {"messages": [{"role": "user", "content": NUL}]}, "messages[0].content"),
        Case("message part type an object", "POST", "/threads/{thread}/messages", {"role": "user", "content": [{"type": {}}]}, "content[0].type"),
        Case("message image detail a number", "POST", "/threads/{thread}/messages", {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png", "detail": 3}}]}, "content[0].image_url.detail"),
        Case("attachment file_id a number", "POST", "/threads/{thread}/messages", {"role": "user", "content": "x", "attachments": [{"file_id": 5, "tools": [{"type": "file_search"}]}]}, "attachments[0].file_id"),
        Case("message metadata value a number", "POST", "/threads/{thread}/messages", {"role": "user", "content": "x", "metadata": {"a": 1}}, "metadata"),
        Case("NUL in the thread id", "GET", "/threads/thread_%00/messages", None, "thread_id"),
        Case("NUL in a messages cursor", "GET", "/threads/{thread}/messages?after=msg%00", None, "after"),
        # -- Runs
        Case("run stream 'yes'", "POST", "/threads/{thread}/runs", {"assistant_id": "{asst}", "stream": "yes"}, "stream"),
        Case("run max_completion_tokens 2^63", "POST", "/threads/{thread}/runs", {"assistant_id": "{asst}", "max_completion_tokens": BIG}, "max_completion_tokens"),
        Case("run json_schema name a number", "POST", "/threads/{thread}/runs", {"assistant_id": "{asst}", "response_format": {"type": "json_schema", "json_schema": {"name": 5}}}, "response_format.json_schema.name"),
        Case("run tool_choice names no tool", "POST", "/threads/{thread}/runs", {"assistant_id": "{asst}", "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
        Case("run tool_choice unknown", "POST", "/threads/{thread}/runs", {"assistant_id": "{asst}", "tool_choice": "bogus"}, "tool_choice"),
        Case("run tool_choice required without tools", "POST", "/threads/{thread}/runs", {"assistant_id": "{asst}", "tools": [], "tool_choice": "required"}, "tool_choice"),
        Case("NUL in additional_messages", "POST", "/threads/{thread}/runs", {"assistant_id": "{asst}", "additional_messages": [{"role": "user", "content": NUL}]}, "additional_messages[0].content"),
        Case("NUL in the assistant_id", "POST", "/threads/{thread}/runs", {"assistant_id": NUL}, "assistant_id"),
        Case("thread-and-run vector_store_ids objects", "POST", "/threads/runs", {"assistant_id": "{asst}", "tool_resources": {"file_search": {"vector_store_ids": [{}]}}}, "tool_resources.file_search.vector_store_ids[0]"),
        Case("thread-and-run tool_choice names no tool", "POST", "/threads/runs", {"assistant_id": "{asst}", "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
        Case("last_messages 2^62", "POST", "/threads/runs", {"assistant_id": "{asst}", "truncation_strategy": {"type": "last_messages", "last_messages": 2**62}}, "truncation_strategy.last_messages"),
        Case("NUL in a runs cursor", "GET", "/threads/{thread}/runs?after=run%00", None, "after"),
        Case("NUL in the run id", "GET", "/threads/{thread}/runs/run_%00", None, "run_id"),
        # -- unknown path ids stay 404
        Case("unknown response", "GET", R + "/resp_unknown", None, "response_id", status=404),
        Case("unknown thread", "GET", "/threads/thread_unknown", None, None, status=404),
    ]
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def world(server) -> dict[str, str]:
    """Objects the cases point at: a stored response, a conversation, a vector store, an
    assistant with a function tool, a thread (all on the scripted model: no model time)."""
    with httpx.Client(base_url=server.url, timeout=60) as c:
        resp = c.post("/responses", json={"model": "scripted", "input": [msg(id="msg_hostile_prev")]}).json()
        conv = c.post("/conversations", json={"items": [msg(id="msg_hostile_conv")]}).json()
        vs = c.post("/vector_stores", json={"name": "hostile"}).json()
        asst = c.post("/assistants", json={"model": "scripted", "tools": [FN_TOOL]}).json()
        thread = c.post("/threads", json={"messages": [{"role": "user", "content": "hello"}]}).json()
    return {"resp": resp["id"], "conv": conv["id"], "vs": vs["id"], "asst": asst["id"], "thread": thread["id"]}


def fill(value: Any, w: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, real in w.items():
            value = value.replace("{" + key + "}", real)
        return value
    if isinstance(value, list):
        return [fill(v, w) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, w) for k, v in value.items()}
    return value


def snapshot(c: httpx.Client, w: dict[str, str]) -> dict[str, list[str]]:
    """Every list a stray row could show up in."""
    lists = {
        "assistants": "/assistants?limit=100",
        "vector_stores": "/vector_stores?limit=100",
        "files": "/files",
        "conversation items": f"/conversations/{w['conv']}/items?limit=100",
        "thread messages": f"/threads/{w['thread']}/messages?limit=100",
        "runs": f"/threads/{w['thread']}/runs?limit=100",
        "response input": f"/responses/{w['resp']}/input_items?limit=100",
    }
    out = {}
    for name, path in lists.items():
        r = c.get(path)
        assert r.status_code == 200, (name, r.text)
        out[name] = [o["id"] for o in r.json()["data"]]
    return out


def check_envelope(r: httpx.Response, case: Case) -> None:
    assert r.status_code == case.status, (case.name, r.status_code, r.text[:500])
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert err["type"] == "invalid_request_error" and err["message"], err
    if case.param is not None and case.param.endswith("*"):
        assert (err["param"] or "").startswith(case.param[:-1]), (case.name, err)
    elif case.status == 400 or case.param is not None:
        assert err["param"] == case.param, (case.name, err)


def local_port(r: httpx.Response) -> int:
    return r.extensions["network_stream"].get_extra_info("socket").getsockname()[1]


def test_hostile_inputs_are_400s_that_store_nothing(server, world):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        before = snapshot(c, world)
        port = local_port(c.get("/assistants?limit=1"))
        for case in CASES:
            headers = dict(case.headers)
            if case.raw is not None:
                content = case.raw
            elif case.body is not None:
                content = json.dumps(fill(case.body, world)).encode()
                headers["content-type"] = "application/json"
            else:
                content = None
            r = c.request(case.method, fill(case.path, world), content=content, headers=headers)
            check_envelope(r, case)
            assert r.headers.get("connection") != "close", case.name
            assert local_port(r) == port, f"{case.name}: the error answer closed the kept-alive connection"
        assert snapshot(c, world) == before
        # the server still answers, and runs the real model
        assert c.get(server.url.removesuffix("/v1") + "/health").status_code == 200
    client = server.client()
    done = client.responses.create(model="smollm2", input="Say hi.", max_output_tokens=4)
    assert done.status in ("completed", "incomplete")


def test_error_answers_keep_the_connection(server):
    """Errors raised before the body is read (a bad path, an unknown URL, a bad upload) still
    read it, so the client's next request reuses the connection."""
    big = b'{"metadata": {"a": "' + b"x" * 3_000_000 + b'"}}'
    upload, upload_headers = multipart(b"a\x00.txt", data=b"y" * 2_000_000)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        port = local_port(c.get("/assistants?limit=1"))
        for method, path, content, headers in [
            ("POST", "/conversations/conv_%00", big, {"content-type": "application/json"}),
            ("POST", "/no/such/endpoint", big, {"content-type": "application/json"}),
            ("POST", "/files", upload, upload_headers),
            ("POST", "/responses", b"{not json" + b" " * 1_000_000, {"content-type": "application/json"}),
        ]:
            r = c.request(method, path, content=content, headers=headers)
            assert 400 <= r.status_code < 500, r.text
            good = c.get("/assistants?limit=1")
            assert good.status_code == 200
            assert local_port(r) == local_port(good) == port, path


# -- the fuzz-ish loop: wrong-typed values for every field the reference spec lists ----------

WRONG = {
    "string": [5, True, [], {}, NUL],
    "integer": ["5", 1.5, True, BIG, -BIG - 1, {}],
    "number": ["1", True, [], {}],
    "boolean": ["yes", 1, {}, []],
    "array": [{}, "x", 5, [5], [{}], [[]], [None], [NUL]],
    "object": [[], "x", 5, {"type": {}}, {"type": []}, {NUL: 1}],
    None: [{}, [], 5, "x", True, {"type": {}}, [{"type": []}]],
}

# (method, path, a valid body): every JSON request body of the reference spec
BASES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/responses", {"model": "scripted", "input": "hi"}),
    ("POST", "/responses/compact", {"model": "scripted", "input": "hi"}),
    ("POST", "/conversations", {"items": [msg()]}),
    ("POST", "/conversations/{conv}", {"metadata": {"a": "b"}}),
    ("POST", "/conversations/{conv}/items", {"items": [msg()]}),
    ("POST", "/vector_stores", {"name": "fuzz"}),
    ("POST", "/vector_stores/{vs}", {"name": "fuzz"}),
    ("POST", "/vector_stores/{vs}/search", {"query": "hello"}),
    ("POST", "/vector_stores/{vs}/files", {"file_id": "file-unknown"}),
    ("POST", "/vector_stores/{vs}/file_batches", {"file_ids": ["file-unknown"]}),
    ("POST", "/assistants", {"model": "scripted"}),
    ("POST", "/assistants/{asst}", {"name": "fuzz"}),
    ("POST", "/threads", {}),
    ("POST", "/threads/{thread}", {"metadata": {}}),
    ("POST", "/threads/{thread}/messages", {"role": "user", "content": "hi"}),
    ("POST", "/threads/runs", {"assistant_id": "{asst}"}),
    ("POST", "/threads/{thread}/runs", {"assistant_id": "{asst}"}),
]
# Nested fields the spec hides behind unions (items, tools, parts): each gets every WRONG value.
ITEM_KEYS = ("type", "role", "content", "id", "status", "phase", "call_id", "name", "arguments", "output", "summary", "queries", "encrypted_content")
NESTED: list[tuple[str, str, dict[str, Any], list[tuple[Any, ...]]]] = [
    ("POST", "/responses", {"model": "scripted", "input": [msg()]}, [("input", 0, k) for k in ITEM_KEYS] + [("input", 0, "content", 0, k) for k in ("type", "text", "image_url", "file_id", "detail")]),
    ("POST", "/responses", {"model": "scripted", "input": [FC, {"type": "function_call_output", "call_id": "call_1", "output": "ok"}]}, [("input", i, k) for i in (0, 1) for k in ITEM_KEYS]),
    ("POST", "/responses", {"model": "scripted", "input": "hi", "tools": [{"type": "function", "name": "f"}]}, [("tools", 0, k) for k in ("type", "name", "description", "parameters", "strict")] + [("tool_choice",), ("tool_choice", "type"), ("tool_choice", "name")]),
    ("POST", "/responses", {"model": "scripted", "input": "hi", "tools": [VS_TOOL]}, [("tools", 0, k) for k in ("vector_store_ids", "max_num_results", "ranking_options", "filters")] + [("tools", 0, "ranking_options", "score_threshold"), ("tools", 0, "filters", "type"), ("tools", 0, "filters", "filters")]),
    ("POST", "/responses", {"model": "scripted", "input": "hi", "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}}, [("text", "format", k) for k in ("type", "name", "schema", "strict", "description")]),
    ("POST", "/responses", {"model": "scripted", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "f"}]}}, [("tool_choice", "mode"), ("tool_choice", "tools"), ("tool_choice", "tools", 0, "type"), ("tool_choice", "tools", 0, "name")]),
    ("POST", "/responses", {"model": "scripted", "input": "hi", "tools": [{"type": "custom", "name": "c"}], "tool_choice": {"type": "custom", "name": "c"}}, [("tools", 0, "format"), ("tools", 0, "format", "type"), ("tools", 0, "format", "definition"), ("tools", 0, "description"), ("tool_choice", "name")]),
    ("POST", "/responses", {"model": "scripted", "input": "hi", "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]}]}, [("tools", 0, "tools"), ("tools", 0, "description"), ("tools", 0, "tools", 0, "type"), ("tools", 0, "tools", 0, "name"), ("tools", 0, "tools", 0, "parameters")]),
    ("POST", "/responses", {"model": "scripted", "input": [{"type": "custom_tool_call", "call_id": "c1", "name": "c", "input": "x"}, {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"}], "tools": [{"type": "custom", "name": "c"}]}, [("input", i, k) for i in (0, 1) for k in ("id", "call_id", "name", "input", "output", "namespace", "status")]),
    ("POST", "/responses", {"model": "scripted", "input": [{"type": "item_reference", "id": "msg_hostile_prev"}]}, [("input", 0, "id"), ("input", 1, "id")]),
    ("POST", "/conversations/{conv}/items", {"items": [msg()]}, [("items", 0, k) for k in ITEM_KEYS]),
    ("POST", "/vector_stores/{vs}/file_batches", {"file_ids": ["file-unknown"]}, [("file_ids",), ("files",), ("files", 0, "file_id"), ("files", 0, "attributes"), ("chunking_strategy",), ("attributes",)]),
    ("POST", "/assistants", {"model": "scripted", "tools": [FN_TOOL]}, [("tools", 0, k) for k in ("type", "function")] + [("tools", 0, "function", k) for k in ("name", "description", "parameters", "strict")] + [("response_format",), ("response_format", "type"), ("response_format", "json_schema"), ("response_format", "json_schema", "name"), ("response_format", "json_schema", "schema")]),
    ("POST", "/assistants", {"model": "scripted", "tools": [{"type": "file_search"}]}, [("tools", 0, "file_search"), ("tools", 0, "file_search", "max_num_results"), ("tools", 0, "file_search", "ranking_options"), ("tools", 0, "file_search", "ranking_options", "score_threshold"), ("tool_resources", "file_search", "vector_stores", 0, "file_ids"), ("tool_resources", "file_search", "vector_stores", 0, "chunking_strategy"), ("tool_resources", "file_search", "vector_stores", 0, "metadata")]),
    ("POST", "/threads/{thread}/messages", {"role": "user", "content": [{"type": "text", "text": "hi"}]}, [("content", 0, k) for k in ("type", "text", "image_file", "image_url")] + [("content", 0, "image_url", "url"), ("content", 0, "image_url", "detail"), ("attachments", 0, "tools", 0, "type")]),
    ("POST", "/threads/{thread}/runs", {"assistant_id": "{asst}"}, [("tool_choice",), ("tool_choice", "type"), ("tool_choice", "function"), ("tool_choice", "function", "name"), ("tools", 0, "function"), ("truncation_strategy", "last_messages")]),
]
SPEC_NAMES = {"{conv}": "{conversation_id}", "{vs}": "{vector_store_id}", "{asst}": "{assistant_id}", "{thread}": "{thread_id}"}
LISTS = ["/assistants", "/vector_stores", "/files", "/conversations/{conv}/items", "/threads/{thread}/messages", "/threads/{thread}/runs", "/responses/{resp}/input_items", "/vector_stores/{vs}/files"]
# Every GET/DELETE path with an id, and odd ids to put there: none may be a 5xx.
ID_PATHS = [
    "/responses/{x}", "/responses/{x}/input_items", "/conversations/{x}", "/conversations/{conv}/items/{x}", "/files/{x}", "/files/{x}/content",
    "/vector_stores/{x}", "/vector_stores/{vs}/files/{x}", "/vector_stores/{vs}/file_batches/{x}", "/assistants/{x}", "/threads/{x}",
    "/threads/{thread}/messages/{x}", "/threads/{thread}/runs/{x}", "/threads/{thread}/runs/{x}/steps",
]
ODD_IDS = ["x" * 5000, "%00", "%ff%fe", "%c0%80", "%e2%80%ae", "1", "-1", "null", "%20", "resp_" + "9" * 70]
QUERY_VALUES = {"limit": ["x", "-1", "1.5", "99999999999999999999", ""], "order": ["x", "%00", "1"], "after": ["%00", "x" * 300, "1"], "before": ["%00", "x" * 300]}


def _spec() -> dict[str, Any]:
    return json.loads(gzip.decompress(SPEC.read_bytes()))


def body_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The JSON request body schema the spec gives `method path` (our placeholders mapped)."""
    for ours, theirs in SPEC_NAMES.items():
        path = path.replace(ours, theirs)
    return spec["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]


def _resolve(schema: Any, schemas: dict[str, Any], seen: int = 0) -> dict[str, Any]:
    """A schema with its $ref, allOf and first object-like anyOf/oneOf branch followed."""
    if not isinstance(schema, dict) or seen > 8:
        return {}
    if "$ref" in schema:
        return _resolve(schemas.get(schema["$ref"].rsplit("/", 1)[-1], {}), schemas, seen + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_resolve(part, schemas, seen + 1).get("properties", {}))
        return merged
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [_resolve(b, schemas, seen + 1) for b in schema[key]]
            typed = [b for b in branches if b.get("type") not in (None, "null")]
            if len(typed) == 1:
                return typed[0]
            objects = [b for b in typed if b.get("properties")]
            return objects[0] if objects else {}
    return schema


def field_paths(schema: dict[str, Any], schemas: dict[str, Any]) -> list[tuple[tuple[Any, ...], str | None]]:
    """(path, declared type) for each top-level field and the fields one and two levels down
    (arrays entered at element 0)."""
    out: list[tuple[tuple[Any, ...], str | None]] = []

    def walk(schema: dict[str, Any], path: tuple[Any, ...], depth: int) -> None:
        for prop, sub in (schema.get("properties") or {}).items():
            resolved = _resolve(sub, schemas)
            kind = resolved.get("type") if isinstance(resolved.get("type"), str) else None
            out.append(((*path, prop), kind))
            if depth < 2 and kind == "object":
                walk(resolved, (*path, prop), depth + 1)
            if depth < 2 and kind == "array":
                items = _resolve(resolved.get("items"), schemas)
                if items.get("properties"):
                    walk(items, (*path, prop, 0), depth + 1)

    walk(_resolve(schema, schemas), (), 0)
    return out


def mutate(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of `base` with `value` at `path` (int keys: element 0), creating the containers
    on the way."""
    body = copy.deepcopy(base)
    node: Any = body
    for key, nxt in zip(path, path[1:], strict=False):
        want = list if isinstance(nxt, int) else dict
        child = _get(node, key)
        if not isinstance(child, want):
            child = [{}] if want is list else {}
            _set(node, key, child)
        node = child
    _set(node, path[-1], value)
    return body


def _get(node: Any, key: Any) -> Any:
    if isinstance(node, list):
        return node[0] if node else None
    return node.get(key)


def _set(node: Any, key: Any, value: Any) -> None:
    if isinstance(node, list):
        node[:1] = [value]
    else:
        node[key] = value


def probe(c: httpx.Client, failures: list[str], method: str, path: str, body: Any, what: str) -> None:
    """Send one request; a 5xx, an error without OpenAI's envelope or a dropped connection is
    a failure."""
    content = json.dumps(body).encode() if body is not None else None
    try:
        r = c.request(method, path, content=content, headers={"content-type": "application/json"} if content else {})
    except httpx.TransportError as exc:
        failures.append(f"{method} {path} {what}: connection dropped ({exc!r})")
        return
    if r.status_code >= 500 or (r.status_code >= 400 and "error" not in r.json()):
        failures.append(f"{method} {path} {what}: {r.status_code} {r.text[:200]}")


def test_wrong_types_for_every_spec_field_never_5xx(server, world):
    spec = _spec()
    schemas = spec["components"]["schemas"]
    sent = 0
    failures: list[str] = []
    with httpx.Client(base_url=server.url, timeout=120) as c:
        for method, path, base in BASES:
            for field_path, kind in field_paths(body_schema(spec, method, path), schemas):
                for value in WRONG.get(kind, WRONG[None]):
                    body = fill(mutate(base, field_path, value), world)
                    sent += 1
                    probe(c, failures, method, fill(path, world), body, f"{'.'.join(map(str, field_path))}={value!r:.60}")
        for method, path, base, paths in NESTED:
            for field_path in paths:
                for value in WRONG[None] + WRONG["string"] + WRONG["integer"]:
                    body = fill(mutate(base, field_path, value), world)
                    sent += 1
                    probe(c, failures, method, fill(path, world), body, f"{'.'.join(map(str, field_path))}={value!r:.60}")
        for path in LISTS:
            for name, values in QUERY_VALUES.items():
                for value in values:
                    sent += 1
                    probe(c, failures, "GET", f"{fill(path, world)}?{name}={value}", None, "")
        for path in ID_PATHS:
            for odd in ODD_IDS:
                for method in ("GET", "DELETE"):
                    sent += 1
                    probe(c, failures, method, fill(path, world).replace("{x}", odd), None, "")
        assert c.get(server.url.removesuffix("/v1") + "/health").status_code == 200
    assert sent > 1000
    assert not failures, f"{len(failures)} of {sent} answers were 5xx:\n" + "\n".join(failures[:40])


def test_an_id_added_while_a_response_runs_is_kept_once(server):
    """A client adds an item to the conversation, with the id of the running response's own
    input item, while the response streams: the response still completes and is stored, the
    conversation keeps the client's item once (no IntegrityError after the model ran)."""
    client = server.client()
    conv = client.conversations.create()
    race = {"type": "message", "id": "msg_race", "role": "user", "content": "count slowly"}
    with client.responses.stream(model="scripted", conversation=conv.id, input=[race]) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                client.conversations.items.create(conv.id, items=[{**race, "content": "the client's copy"}])
                break
        final = stream.get_final_response()
    assert final.status == "completed"
    items = client.conversations.items.list(conv.id, order="asc").data
    assert [i.id for i in items].count("msg_race") == 1
    assert items[0].content[0].text == "the client's copy"
    assert items[-1].id == final.output[-1].id
    assert client.responses.retrieve(final.id).status == "completed"
