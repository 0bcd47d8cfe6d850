"""The chunk index: rows to store for a file's chunks, and the keyword and vector candidate
queries on each database.

Keyword search is always on. SQLite: an external-content FTS5 table (porter stemming) over
(vector_store_id, text) ranked by bm25() with the id column weighted 0; the store ids go into the
MATCH expression as a column filter, so FTS5 walks only the searched stores' postings and a
small store's search does not slow as another store in the database grows (migration 0006).
PostgreSQL: a stored `to_tsvector('english', text)` column with a GIN index, matched by
`websearch_to_tsquery` and ranked by `ts_rank_cd`. Query words are OR-ed (a question rarely
has every word in one chunk) after dropping stop words, so ranking does the work.

Vectors are searched in the database's own vector index: see store/vector_index.py.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import sqlalchemy as sa

from ..store.models import vector_store_chunks
from .embeddings import to_blob

C = vector_store_chunks.c
_WORD = re.compile(r"\w+")
MAX_TERMS = 32
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves""".split()
)
_FTS = sa.table("vector_store_chunks_fts", sa.column("rowid"))
_FTS_NAME: Any = sa.literal_column("vector_store_chunks_fts")
_ID_TOKEN = re.compile(r"[A-Za-z0-9]+")
_ENGLISH: Any = sa.literal_column("'english'::regconfig")


def query_terms(queries: list[str]) -> list[str]:
    """The distinct lower-cased words of the queries, stop words dropped (unless that leaves
    nothing), at most MAX_TERMS."""
    words = list(dict.fromkeys(w.lower() for q in queries for w in _WORD.findall(q) if w.strip("_")))
    content = [w for w in words if w not in STOPWORDS]
    return (content or words)[:MAX_TERMS]


def fts5_query(terms: list[str], vector_store_ids: list[str] | None = None) -> str:
    """An FTS5 MATCH expression: each term a quoted string (no operator can sneak in), OR-ed.
    With store ids (see id_token), the terms are restricted to the text column and AND-ed with
    a filter on the vector_store_id column."""
    words = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
    tokens = [id_token(v) for v in vector_store_ids or []]
    if not tokens or None in tokens:
        return words
    ids = " OR ".join(f'"{t}"' for t in dict.fromkeys(tokens))
    return f"vector_store_id : ({ids}) AND text : ({words})"


def id_token(vector_store_id: str) -> str | None:
    """The FTS5 token that picks out a store's rows in the vector_store_id column: the longest
    alphanumeric run of the id, the last on a tie (`vs_3fK…` → `3fK…`, the random part: one
    token to unicode61, and rare; the shared `vs` prefix token would walk every row). It may
    also match another id holding the same token, which the SQL filter on vector_store_id
    drops. None when the id is not plain ASCII (the tokenizer's split might differ): no column
    filter then."""
    runs = _ID_TOKEN.findall(vector_store_id)
    if not vector_store_id.isascii() or not runs:
        return None
    return max(reversed(runs), key=len)  # a tie goes to the last run, past the prefix


def websearch_query(terms: list[str]) -> str:
    """A websearch_to_tsquery input: the terms joined by its `or` operator."""
    return " or ".join(t for t in terms if t not in ("or", "and"))


def _stem(term: str) -> str:
    return term if len(term) <= 3 else term[: max(3, len(term) - 2)]


def coverage(terms: list[str], text: str) -> float:
    """The share of query terms found in `text` (a crude prefix stem stands in for the
    database's stemmer): a chunk holding every word scores higher than one that repeats one."""
    if not terms:
        return 0.0
    words = {w.lower() for w in _WORD.findall(text)}
    hits = sum(1 for t in terms if t in words or any(w.startswith(_stem(t)) for w in words))
    return hits / len(terms)


def keyword_select(dialect: str, terms: list[str], where: Any, limit: int, vector_store_ids: list[str] | None = None) -> Any:
    """(id, vector_store_id, file_id, text, raw) rows, best first; `raw` grows with relevance.
    `where` must itself hold the store filter: `vector_store_ids` only narrows the FTS5 walk."""
    if dialect == "sqlite":
        bm25 = sa.func.bm25(_FTS_NAME, sa.literal_column("0.0"), sa.literal_column("1.0"))  # (vector_store_id, text)
        return (
            sa.select(C.id, C.vector_store_id, C.file_id, C.text, (-bm25).label("raw"))
            .select_from(_FTS.join(vector_store_chunks, C.id == _FTS.c.rowid))
            .where(_FTS_NAME.op("MATCH")(fts5_query(terms, vector_store_ids)))
            .where(where)
            .order_by(bm25, C.id)
            .limit(limit)
        )
    tsv: Any = sa.literal_column("vector_store_chunks.tsv")  # stored, GIN-indexed (migration 0005)
    tsq = sa.func.websearch_to_tsquery(_ENGLISH, websearch_query(terms))
    rank = sa.func.ts_rank_cd(tsv, tsq)
    return (
        sa.select(C.id, C.vector_store_id, C.file_id, C.text, rank.label("raw"))
        .where(tsv.op("@@")(tsq))
        .where(where)
        .order_by(rank.desc(), C.id)
        .limit(limit)
    )


def chunk_rows(chunks: list[str], vectors: np.ndarray | None, model: str | None) -> list[dict[str, Any]]:
    """The rows of vector_store_chunks for one file (without its ids)."""
    return [
        {
            "position": i,
            "text": text,
            "embedding": to_blob(vectors[i]) if vectors is not None else None,
            "embedding_model": model if vectors is not None else None,
        }
        for i, text in enumerate(chunks)
    ]
