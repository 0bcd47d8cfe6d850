"""Retrieval logic: chunking, parsing, query terms, filters compiled to SQL (run on SQLite and
PostgreSQL), scoring and fusion, and the service's search() as the file_search tool calls it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import zipfile
from collections import namedtuple
from pathlib import Path

import pytest
import sqlalchemy as sa

from onward.errors import APIError
from onward.retrieval import chunking, index
from onward.retrieval.parsing import ParseError, parse
from onward.retrieval.search import compile_filter, fuse, keyword_scores, validate_filter
from onward.store.models import vector_store_chunks, vector_store_file_attributes
from onward.store.vector_stores import attribute_rows
from tests.conftest import new_pg_database

# -- documents made from scratch (also used by the e2e tests) -----------------------------------


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str]) -> bytes:
    """A real PDF (Helvetica text, one page per entry, lines split on newlines) with a correct
    cross-reference table."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        shown = " ".join(f"({_pdf_escape(line)}) Tj T*" for line in text.split("\n"))
        stream = f"BT /F1 11 Tf 14 TL 72 720 Td {shown} ET".encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_docx(paragraphs: list[str]) -> bytes:
    """A minimal but valid Word document."""
    from xml.sax.saxutils import escape

    body = "".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>',
        )
    return buf.getvalue()


def make_pptx(title: str, text: str) -> bytes:
    import pptx

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = title
    slide.placeholders[1].text = text
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def make_xlsx(rows: list[list[object]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


# -- chunking ------------------------------------------------------------------------------------


def test_auto_and_default_strategy_are_800_400():
    expected = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
    assert chunking.resolve_strategy(None) == expected
    assert chunking.resolve_strategy({"type": "auto"}) == expected
    static = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}}
    assert chunking.resolve_strategy(static) == static


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}}, "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}}, "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101}}, "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": -1}}, "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": "800", "chunk_overlap_tokens": 0}}, "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 800}}, "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "static"}, "chunking_strategy.static"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 0, "x": 1}}, "chunking_strategy.static.x"),
        ({"type": "semantic"}, "chunking_strategy.type"),
        ({"type": "auto", "static": {}}, "chunking_strategy.static"),
        ("auto", "chunking_strategy"),
    ],
)
def test_bad_strategies_name_the_field(raw, param):
    with pytest.raises(APIError) as err:
        chunking.resolve_strategy(raw)
    assert err.value.status == 400 and err.value.param == param


def test_chunks_respect_size_and_overlap():
    text = " ".join(f"word{i} is number {i} in a long run of text." for i in range(600))
    tokens = chunking.tokenize(text)
    chunks = chunking.chunk_text(text, 100, 40)
    enc = chunking.encoder()
    sizes = [len(enc.encode_ordinary(c)) for c in chunks]
    assert max(sizes) <= 102  # a stripped window re-encodes to about its own size
    assert len(chunks) == -(-(len(tokens) - 40) // 60)  # windows every 60 tokens to the end
    assert chunks[0].startswith("word0 ") and chunks[-1].endswith("number 599 in a long run of text.")
    # consecutive chunks share their overlap
    tail = enc.decode(enc.encode_ordinary(chunks[0])[-30:]).strip()
    assert tail in chunks[1]


def test_overlap_zero_and_short_and_blank_text():
    text = "alpha " * 250
    chunks = chunking.chunk_text(text, 100, 0)
    assert sum(len(chunking.encoder().encode_ordinary(c)) for c in chunks) >= 240
    assert chunking.chunk_text("just a line", 800, 400) == ["just a line"]
    assert chunking.chunk_text("  \n ", 800, 400) == []


def test_multibyte_text_is_not_mangled():
    text = "Grüße aus Köln, 東京からこんにちは。" * 200
    for chunk in chunking.chunk_text(text, 100, 50):
        assert "\ufffd" not in chunk


# -- parsing -------------------------------------------------------------------------------------


def test_parse_documents(tmp_path: Path):
    cases = {
        "report.pdf": (make_pdf(["The quokka lives on Rottnest Island.", "Page two: wombats dig burrows."]), ["quokka", "wombats dig burrows"]),
        "notes.docx": (make_docx(["Zebras have stripes.", "Second paragraph."]), ["Zebras have stripes", "Second paragraph"]),
        "deck.pptx": (make_pptx("Birds", "Penguins waddle"), ["Penguins waddle"]),
        "sheet.xlsx": (make_xlsx([["animal", "legs"], ["spider", 8]]), ["spider", "8"]),
        "page.html": (b"<html><body><h1>Otters</h1><p>Otters hold hands.</p><script>var x=1;</script></body></html>", ["Otters hold hands"]),
        "readme.md": (b"# Title\n\nSome *markdown*.", ["# Title"]),
        "data.json": (b'{"animal": "axolotl"}', ["axolotl"]),
        "code.py": (b"def f():\n    return 'kiwi'\n", ["kiwi"]),
        "latin1.txt": ("caf\xe9 ol\xe9".encode("latin-1"), ["caf"]),
    }
    for name, (data, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        text = parse(path, name)
        for piece in expected:
            assert piece in text, (name, text)
    assert "var x" not in parse(tmp_path / "page.html", "page.html")


def test_parse_failures(tmp_path: Path):
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(ParseError) as err:
        parse(tmp_path / "bad.pdf", "bad.pdf")
    assert err.value.code == "invalid_file" and "bad.pdf" in err.value.message
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(ParseError) as err:
        parse(tmp_path / "bad.docx", "bad.docx")
    assert err.value.code == "invalid_file"
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    with pytest.raises(ParseError) as err:
        parse(tmp_path / "image.png", "image.png")
    assert err.value.code == "unsupported_file"
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ParseError) as err:
        parse(tmp_path / "empty.txt", "empty.txt")
    assert err.value.code == "invalid_file"
    # no extension: the content decides
    (tmp_path / "noext").write_bytes(make_pdf(["sniffed as a pdf"]))
    assert "sniffed as a pdf" in parse(tmp_path / "noext", "noext")


# -- query terms and scores ----------------------------------------------------------------------


def test_query_terms():
    assert index.query_terms(["What is the capital of France?"]) == ["capital", "france"]
    assert index.query_terms(["the", "of the"]) == ["the", "of"]  # only stop words: keep them
    assert index.query_terms(["Quokka", "quokka island"]) == ["quokka", "island"]
    assert index.fts5_query(["quokka", 'is"land']) == '"quokka" OR "island"'
    assert index.websearch_query(["cats", "or", "dogs"]) == "cats or dogs"


def test_keyword_candidates_come_from_the_rarer_words():
    counts = {"common": 2001, "rare": 30, "middle": 900, "absent": 0}
    # the rarest words until the pool is met, then any that still fit the budget
    assert index.choose_terms(counts, pool=50, budget=2000) == ["rare", "middle", "absent"]
    assert index.choose_terms({**counts, "rare": 60}, pool=50, budget=500) == ["rare", "absent"]
    assert index.choose_terms(counts, pool=50, budget=500) == list(counts)  # rare + middle exceed it: all words
    assert index.choose_terms({"a": 2001, "b": 2001}, pool=50, budget=2000) == ["a", "b"]  # all common: every word
    assert index.choose_terms({"a": 2001, "b": 5}, pool=50, budget=2000) == ["a", "b"]  # too few alone: widen
    assert index.choose_terms({"only": 2001}, pool=50) == ["only"]


async def test_keyword_search_ranks_candidates_of_rare_words_and_widens_when_short(tmp_path: Path, monkeypatch):
    from onward.retrieval.search import Searcher
    from onward.store.db import make_engine, migrate

    monkeypatch.setattr(index, "KEYWORD_CANDIDATES", 100)
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    await migrate(engine)
    common = [{"vector_store_id": "vs_k", "file_id": "f1", "position": i, "text": f"common filler words {i}"} for i in range(150)]
    rare = [{"vector_store_id": "vs_k", "file_id": "f2", "position": i, "text": f"common quokka sighting {i}"} for i in range(55)]
    async with engine.begin() as conn:
        await conn.execute(vector_store_chunks.insert(), common + rare)
        await conn.execute(vector_store_file_attributes.insert(), attribute_rows("vs_k", "f2", {"kind": "rare"}))
    try:
        searcher = Searcher(engine)
        # "quokka" (55 chunks) alone picks the candidates: "common" (205) would pass the budget
        hits = await searcher.search(["vs_k"], ["quokka common"], max_num_results=5, filters=None, score_threshold=None)
        assert len(hits) == 5 and all("quokka" in h["text"] for h in hits)
        # the filter leaves none of them: the search widens to every word
        flt = validate_filter({"type": "ne", "key": "kind", "value": "rare"})
        hits = await searcher.search(["vs_k"], ["quokka common"], max_num_results=5, filters=flt, score_threshold=None)
        assert len(hits) == 5 and all(h["file_id"] == "f1" for h in hits)
    finally:
        await engine.dispose()


def test_fts5_query_filters_the_store_column():
    assert index.id_token("vs_3fKq9Zx") == "3fKq9Zx"  # the random part: one rare token
    assert index.id_token("vs_a-b1234") == "b1234"
    assert index.id_token("vs_é") is None and index.id_token("__") is None
    assert index.fts5_query(["quokka", "island"], ["vs_AAA", "vs_BB", "vs_AAA"]) == (
        'vector_store_id : ("AAA" OR "BB") AND text : ("quokka" OR "island")'
    )
    assert index.fts5_query(["quokka"], ["vs_é"]) == '"quokka"'  # no column filter: SQL filters alone


def _sqlite_chunks(url: str, revision: str = "head") -> sa.Engine:
    from alembic import command

    from onward.store.db import _alembic_config

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg = _alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return engine


def test_sqlite_keyword_search_walks_only_the_searched_store(tmp_path: Path):
    from alembic import command

    from onward.store.db import _alembic_config

    url = f"sqlite:///{tmp_path / 'k.db'}"
    engine = _sqlite_chunks(url, "0005")  # chunks written before 0006 are indexed by its rebuild
    rows = [{"vector_store_id": "vs_small", "file_id": "f1", "position": i, "text": t} for i, t in enumerate(["the quokka island", "a quokka", "wombat burrows"])]
    rows += [{"vector_store_id": "vs_big", "file_id": "f2", "position": i, "text": f"quokka number {i}" if i % 20 == 0 else f"kangaroo {i}"} for i in range(200)]
    rows += [{"vector_store_id": "vs_small_x", "file_id": "f3", "position": 0, "text": "quokka island"}]
    with engine.begin() as conn:
        conn.execute(vector_store_chunks.insert(), rows)
        cfg = _alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    c = vector_store_chunks.c
    terms = ["quokka", "island"]
    with engine.begin() as conn:
        conn.execute(vector_store_chunks.insert(), [{"vector_store_id": "vs_small", "file_id": "f4", "position": 0, "text": "island of quokkas"}])
        conn.execute(vector_store_chunks.update().where(c.text == "wombat burrows").values(text="wombat island"))
        conn.execute(vector_store_chunks.delete().where(c.text == "a quokka"))
        got = conn.execute(index.keyword_select("sqlite", terms, c.vector_store_id == "vs_small", 50, ["vs_small"])).all()
        assert [r.text for r in got][:2] == ["the quokka island", "island of quokkas"]  # both words first
        assert {r.text for r in got} == {"the quokka island", "island of quokkas", "wombat island"}
        assert all(r.raw > 0 for r in got)
        # the MATCH alone (no SQL store filter) already keeps to the store: the big one is never walked
        fts = conn.exec_driver_sql(
            "SELECT c.vector_store_id FROM vector_store_chunks_fts JOIN vector_store_chunks c ON c.id = vector_store_chunks_fts.rowid "
            "WHERE vector_store_chunks_fts MATCH ?",
            (index.fts5_query(terms, ["vs_small"]),),
        ).scalars()
        assert set(fts) == {"vs_small", "vs_small_x"}  # an id sharing the token: the SQL filter drops it
        # the id's own words never match a query word
        assert conn.execute(index.keyword_select("sqlite", ["vs", "small"], c.vector_store_id == "vs_small", 50, ["vs_small"])).all() == []
        both = conn.execute(index.keyword_select("sqlite", terms, c.vector_store_id.in_(["vs_small", "vs_big"]), 500, ["vs_small", "vs_big"])).all()
        assert {r.vector_store_id for r in both} == {"vs_small", "vs_big"} and len(both) == 13
        assert both[0].text in ("the quokka island", "island of quokkas")
    with engine.begin() as conn:  # and back down
        cfg = _alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        assert conn.exec_driver_sql("SELECT count(*) FROM vector_store_chunks_fts WHERE vector_store_chunks_fts MATCH 'island'").scalar() == 4
    engine.dispose()


def test_coverage_and_keyword_scores():
    assert index.coverage(["quokka", "islands"], "The quokka lives on an island.") == 1.0
    assert index.coverage(["quokka", "perth"], "The quokka.") == 0.5
    row = namedtuple("row", "id text raw")
    rows = [row(1, "quokka island", 4.0), row(2, "quokka", 2.0)]
    scores = keyword_scores(["quokka", "island"], rows)
    assert scores[1] == 1.0 and scores[2] == pytest.approx(0.5 * 0.75)


def test_fusion():
    assert fuse([{1: 0.9, 2: 0.4}]) == {1: 0.9, 2: 0.4}
    assert fuse([{}, {1: 0.3}]) == {1: 0.3}
    fused = fuse([{1: 0.9, 2: 0.5}, {2: 0.8, 1: 0.7, 3: 0.1}])
    assert fused[1] == fused[2] < 1.0  # each first once, second once
    assert fused[3] < fused[1]
    top = fuse([{5: 1.0, 6: 0.1}, {5: 0.9}])
    assert top[5] == pytest.approx(1.0)


# -- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"type": "like", "key": "a", "value": 1}, "filters.type"),
        ({"type": "eq", "value": 1}, "filters.key"),
        ({"type": "eq", "key": "a"}, "filters.value"),
        ({"type": "in", "key": "a", "value": "x"}, "filters.value"),
        ({"type": "eq", "key": "a", "value": [1]}, "filters.value"),
        ({"type": "eq", "key": "a", "value": {"x": 1}}, "filters.value"),
        ({"type": "and", "filters": [{"type": "eq", "key": "a", "value": 1}, {"type": "gt", "key": "b"}]}, "filters.filters[1].value"),
        ({"type": "or", "filters": "x"}, "filters.filters"),
        ({"type": "eq", "key": "a", "value": 1, "extra": 2}, "filters.extra"),
        ([], "filters"),
    ],
)
def test_bad_filters_name_the_field(raw, param):
    with pytest.raises(APIError) as err:
        validate_filter(raw)
    assert err.value.status == 400 and err.value.param == param


FILES = {
    "f1": {"genre": "fiction", "year": 2019, "draft": False, "rating": 4.5},
    "f2": {"genre": "science", "year": 2021, "draft": True},
    "f3": {"genre": "history", "year": 2023, "draft": False, "rating": 3},
    "f4": {"year": "2021"},  # a string, not a number
    "f5": {},
}
FILTER_CASES = [
    ({"type": "eq", "key": "genre", "value": "science"}, {"f2"}),
    ({"type": "ne", "key": "genre", "value": "science"}, {"f1", "f3", "f4", "f5"}),
    ({"type": "eq", "key": "year", "value": 2021}, {"f2"}),
    ({"type": "eq", "key": "year", "value": "2021"}, {"f4"}),
    ({"type": "gt", "key": "year", "value": 2019}, {"f2", "f3"}),
    ({"type": "gte", "key": "year", "value": 2019}, {"f1", "f2", "f3"}),
    ({"type": "lt", "key": "year", "value": 2023}, {"f1", "f2"}),
    ({"type": "lte", "key": "rating", "value": 3}, {"f3"}),
    ({"type": "gt", "key": "rating", "value": 3.5}, {"f1"}),
    ({"type": "eq", "key": "draft", "value": False}, {"f1", "f3"}),
    ({"type": "eq", "key": "draft", "value": True}, {"f2"}),
    ({"type": "in", "key": "genre", "value": ["fiction", "history", "poetry"]}, {"f1", "f3"}),
    ({"type": "in", "key": "year", "value": [2019, "2021"]}, {"f1", "f4"}),
    ({"type": "nin", "key": "genre", "value": ["fiction"]}, {"f2", "f3", "f4", "f5"}),
    ({"type": "gt", "key": "genre", "value": "g"}, {"f2", "f3"}),  # strings compare as strings
    ({"type": "eq", "key": "missing", "value": 1}, set()),
    ({"type": "and", "filters": [{"type": "gte", "key": "year", "value": 2020}, {"type": "eq", "key": "draft", "value": False}]}, {"f3"}),
    ({"type": "or", "filters": [{"type": "eq", "key": "genre", "value": "fiction"}, {"type": "eq", "key": "year", "value": "2021"}]}, {"f1", "f4"}),
    (
        {
            "type": "and",
            "filters": [
                {"type": "or", "filters": [{"type": "eq", "key": "genre", "value": "science"}, {"type": "eq", "key": "genre", "value": "history"}]},
                {"type": "lt", "key": "year", "value": 2022},
            ],
        },
        {"f2"},
    ),
    ({"type": "and", "filters": []}, {"f1", "f2", "f3", "f4", "f5"}),
]


def _seed(conn: sa.Connection) -> None:
    rows = [r for fid, attrs in FILES.items() for r in attribute_rows("vs_a", fid, attrs)]
    rows += attribute_rows("vs_b", "f5", {"genre": "science"})  # another store's attributes never leak
    conn.execute(vector_store_file_attributes.insert(), rows)
    conn.execute(vector_store_chunks.insert(), [{"vector_store_id": "vs_a", "file_id": fid, "position": 0, "text": fid} for fid in FILES])


def _matching(conn: sa.Connection, flt: dict) -> set[str]:
    c = vector_store_chunks.c
    query = sa.select(c.file_id).where((c.vector_store_id == "vs_a") & compile_filter(validate_filter(flt)))
    return set(conn.execute(query).scalars())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def filter_db(request, tmp_path_factory):
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('filters') / 'f.db'}")
        else:  # a database of its own: the session's holds the live servers' tables
            url = stack.enter_context(new_pg_database("onward_filters"))
            engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        stack.callback(engine.dispose)
        with engine.begin() as conn:
            vector_store_chunks.metadata.create_all(conn, tables=[vector_store_chunks, vector_store_file_attributes])
            _seed(conn)
        yield engine


@pytest.mark.parametrize(("flt", "expected"), FILTER_CASES)
def test_filters_run_in_sql(filter_db, flt, expected):
    with filter_db.connect() as conn:
        assert _matching(conn, flt) == expected


def test_filter_sql_is_one_query_with_exists():
    flt = validate_filter({"type": "and", "filters": [{"type": "eq", "key": "a", "value": "x"}, {"type": "nin", "key": "b", "value": [1, "y"]}]})
    sql = str(compile_filter(flt).compile(compile_kwargs={"literal_binds": True}))
    assert sql.count("EXISTS") == 2 and "NOT (EXISTS" in sql
    assert "vector_store_file_attributes.str_value = 'x'" in sql


# -- the service, as the file_search tool calls it -----------------------------------------------


async def test_service_search_for_the_tool(tmp_path: Path):
    from onward.engine.vector_stores import VectorStoreService
    from onward.store.db import make_engine, migrate
    from onward.store.files import FileStore
    from onward.store.vector_stores import VectorStoreStore

    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    await migrate(engine)
    files = FileStore(engine, tmp_path / "files")
    svc = VectorStoreService(VectorStoreStore(engine), files, lease_seconds=2)
    await svc.start()
    try:
        await files.create("file-a", filename="quokka.txt", purpose="assistants", chunks=b"The quokka lives on Rottnest Island near Perth.")
        await files.create("file-b", filename="wombat.pdf", purpose="assistants", chunks=make_pdf(["Wombats dig burrows in Tasmania."]))
        vs = await svc.create({"name": "animals"})
        await svc.create_file(vs["id"], {"file_id": "file-a", "attributes": {"region": "wa"}})
        await svc.create_file(vs["id"], {"file_id": "file-b", "attributes": {"region": "tas"}})
        deadline = time.time() + 30
        while (await svc.get(vs["id"]))["file_counts"]["completed"] < 2:
            assert time.time() < deadline
            await asyncio.sleep(0.05)
        hits = await svc.search([vs["id"]], "where does the quokka live", max_num_results=5, filters=None, score_threshold=None)
        assert hits[0]["file_id"] == "file-a" and hits[0]["filename"] == "quokka.txt"
        assert set(hits[0]) >= {"file_id", "filename", "score", "attributes", "text"} and 0 < hits[0]["score"] <= 1
        assert hits[0]["attributes"] == {"region": "wa"} and "Rottnest" in hits[0]["text"]
        hits = await svc.search([vs["id"]], ["burrows", "quokka"], max_num_results=5, filters={"type": "eq", "key": "region", "value": "tas"}, score_threshold=None)
        assert [h["file_id"] for h in hits] == ["file-b"]
        assert await svc.search([vs["id"]], "quokka", max_num_results=5, filters=None, score_threshold=1.0) == [
            h for h in await svc.search([vs["id"]], "quokka", max_num_results=5, filters=None, score_threshold=None) if h["score"] >= 1.0
        ]
        with pytest.raises(APIError) as err:
            await svc.search(["vs_missing"], "x", max_num_results=5, filters=None, score_threshold=None)
        assert err.value.status == 404
    finally:
        await svc.stop()
        await engine.dispose()
