"""The file_search tool in responses: a search item, its events, and answers citing files."""

from __future__ import annotations

import io

import pytest

HANDBOOK = (
    "Acme employee handbook.\n\nVacation policy: every employee gets 25 vacation days per year. "
    "Unused vacation days carry over to the next year, up to five days.\n\n"
    "Remote work: employees may work remotely two days a week."
)
RECIPES = "Pasta carbonara needs eggs, pecorino, guanciale and black pepper. Cook the pasta al dente."


@pytest.fixture(scope="module")
def store(server):
    client = server.client()
    vs = client.vector_stores.create(name="company")
    files = {}
    for name, text in (("handbook.md", HANDBOOK), ("recipes.txt", RECIPES)):
        done = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=(name, io.BytesIO(text.encode())))
        assert done.status == "completed"
        files[name] = done.id
    return vs.id, files


def test_file_search_scripted_cites_the_right_file(server, store):
    vs_id, files = store
    client = server.client()
    resp = client.responses.create(
        model="scripted",
        input="What does the handbook say about vacation?",
        tools=[{"type": "file_search", "vector_store_ids": [vs_id], "max_num_results": 5}],
        include=["file_search_call.results"],
    )
    assert resp.status == "completed"
    call, message = resp.output
    assert call.type == "file_search_call" and call.status == "completed" and call.queries == ["vacation days"]
    assert call.results[0].file_id == files["handbook.md"] and call.results[0].filename == "handbook.md"
    assert 0 < call.results[0].score <= 1
    assert message.content[0].text.startswith("Employees get 25 vacation days")
    cites = message.content[0].annotations
    assert [c.file_id for c in cites] == [files["handbook.md"]] and cites[0].type == "file_citation"
    assert cites[0].filename == "handbook.md" and cites[0].index == len(message.content[0].text)
    assert resp.tools[0].type == "file_search" and resp.tools[0].vector_store_ids == [vs_id]


def test_file_search_results_need_include(server, store):
    vs_id, _ = store
    resp = server.client().responses.create(model="scripted", input="handbook vacation?", tools=[{"type": "file_search", "vector_store_ids": [vs_id]}])
    assert resp.output[0].type == "file_search_call" and resp.output[0].results is None


def test_file_search_stream_events(server, store):
    vs_id, files = store
    with server.client().responses.stream(model="scripted", input="handbook vacation?", tools=[{"type": "file_search", "vector_store_ids": [vs_id]}]) as stream:
        events = list(stream)
    types = [e.type for e in events]
    i = types.index("response.file_search_call.in_progress")
    assert types[i - 1] == "response.output_item.added"
    assert types[i : i + 3] == ["response.file_search_call.in_progress", "response.file_search_call.searching", "response.file_search_call.completed"]
    assert "response.output_text.annotation.added" in types
    added = next(e for e in events if e.type == "response.output_text.annotation.added")
    assert added.annotation.file_id == files["handbook.md"]
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_file_search_filters_and_threshold(server, store):
    vs_id, _ = store
    client = server.client()
    resp = client.responses.create(
        model="scripted",
        input="handbook vacation?",
        tools=[{"type": "file_search", "vector_store_ids": [vs_id], "filters": {"type": "eq", "key": "team", "value": "nobody"}}],
        include=["file_search_call.results"],
    )
    assert resp.output[0].results == [] and resp.output_text == "I could not find that in the files."


def test_file_search_embedded_model(server, store):
    """The embedded model answers from the files and cites the file it used."""
    vs_id, files = store
    resp = server.client().responses.create(
        model="smollm2",
        input="How many vacation days do employees get per year?",
        tools=[{"type": "file_search", "vector_store_ids": [vs_id]}],
        include=["file_search_call.results"],
        max_output_tokens=60,
        temperature=0,
    )
    call = resp.output[0]
    assert call.type == "file_search_call" and call.results[0].file_id == files["handbook.md"]
    message = resp.output[-1]
    assert message.type == "message" and message.content[0].text.strip()
    assert files["handbook.md"] in [a.file_id for a in message.content[0].annotations]


def test_file_search_background(server, store):
    import time

    vs_id, files = store
    client = server.client()
    resp = client.responses.create(model="scripted", input="handbook vacation?", tools=[{"type": "file_search", "vector_store_ids": [vs_id]}], background=True)
    for _ in range(100):
        resp = client.responses.retrieve(resp.id)
        if resp.status not in ("queued", "in_progress"):
            break
        time.sleep(0.05)
    assert resp.status == "completed"
    assert resp.output[-1].content[0].annotations[0].file_id == files["handbook.md"]


def test_file_search_bad_tool(server):
    import httpx

    r = httpx.post(f"{server.url}/responses", json={"model": "scripted", "input": "x", "tools": [{"type": "file_search"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "tools[0].vector_store_ids"
    r = httpx.post(f"{server.url}/responses", json={"model": "scripted", "input": "handbook", "tools": [{"type": "file_search", "vector_store_ids": ["vs_missing"]}]})
    assert r.status_code == 200 and r.json()["output"][0]["status"] == "failed"
