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

import bisect
import re
from typing import Any

import numpy as np
import sqlalchemy as sa

from ..store.models import vector_store_chunks
from .embeddings import to_blob

C = vector_store_chunks.c
_WORD = re.compile(r"\w+")
MAX_TERMS = 32
KEYWORD_CANDIDATES = 1000  # chunks a keyword search ranks, when its rarer words allow (choose_terms)
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
    words = sorted({w.lower() for w in _WORD.findall(text)})
    hits = 0
    for t in terms:  # a word equal to the term or starting with its stem: the first word >= the stem
        stem = _stem(t)
        i = bisect.bisect_left(words, stem)
        hits += i < len(words) and words[i].startswith(stem)
    return hits / len(terms)


def keyword_select(
    dialect: str, terms: list[str], where: Any, limit: int, vector_store_ids: list[str] | None = None, match_terms: list[str] | None = None, small: bool = False
) -> Any:
    """(id, vector_store_id, file_id, text, raw) rows, best first; `raw` grows with relevance.
    `where` must itself hold the store filter: `vector_store_ids` only narrows the FTS5 walk.
    `match_terms` (default: `terms`) pick the candidate rows (see choose_terms); PostgreSQL
    ranks them on all `terms`, SQLite's bm25 on the matched ones (a term in half the rows or
    more weighs ~0 in bm25 anyway). Ranking runs on ids only; the text of the `limit` best
    rows is read afterwards. `small` (PostgreSQL): the stores hold at most KEYWORD_CANDIDATES
    chunks, so their rows are read first by the store index and matched there; otherwise the
    planner may walk the GIN index for every chunk of the database holding a common word
    (a 1,000-chunk store beside a 100,000-chunk one: 141 ms instead of a few)."""
    match = match_terms or terms
    if dialect == "sqlite":
        bm25 = sa.func.bm25(_FTS_NAME, sa.literal_column("0.0"), sa.literal_column("1.0"))  # (vector_store_id, text)
        best = (
            sa.select(C.id.label("cid"), (-bm25).label("raw"))
            .select_from(_FTS.join(vector_store_chunks, C.id == _FTS.c.rowid))
            .where(_FTS_NAME.op("MATCH")(fts5_query(match, vector_store_ids)))
            .where(where)
            .order_by(bm25, C.id)
            .limit(limit)
            .subquery("best")
        )
    else:
        tsv: Any = sa.literal_column("vector_store_chunks.tsv")  # stored, GIN-indexed (migration 0005)
        cid: Any = C.id
        pre: list[Any] = [where]
        if small:
            rows = sa.select(C.id, tsv.label("tsv")).where(where).cte("store_rows").prefix_with("MATERIALIZED")
            tsv, cid, pre = rows.c.tsv, rows.c.id, []
        rank = sa.func.ts_rank_cd(tsv, sa.func.websearch_to_tsquery(_ENGLISH, websearch_query(terms)))
        best = (
            sa.select(cid.label("cid"), rank.label("raw"))
            .where(tsv.op("@@")(sa.func.websearch_to_tsquery(_ENGLISH, websearch_query(match))), *pre)
            .order_by(rank.desc(), cid)
            .limit(limit)
            .subquery("best")
        )
    return (
        sa.select(C.id, C.vector_store_id, C.file_id, C.text, best.c.raw)
        .select_from(best.join(vector_store_chunks, C.id == best.c.cid))
        .order_by(best.c.raw.desc(), C.id)
    )


def store_size_select(vector_store_ids: list[str], cap: int) -> Any:
    """The number of chunks in the stores, counted up to `cap` (on the (store, file) index)."""
    return sa.select(sa.func.count()).select_from(sa.select(C.id).where(C.vector_store_id.in_(vector_store_ids)).limit(cap).subquery())


def term_counts_select(dialect: str, terms: list[str], vector_store_ids: list[str], cap: int) -> Any:
    """One row: for each term, the number of chunks of the stores holding it, counted up to
    `cap` (an index walk that stops there: a word in every chunk costs what a word in `cap`
    chunks does)."""
    counts = []
    for term in terms:
        if dialect == "sqlite":
            hits = sa.select(_FTS.c.rowid).where(_FTS_NAME.op("MATCH")(fts5_query([term], vector_store_ids)))
        else:
            tsv: Any = sa.literal_column("vector_store_chunks.tsv")
            hits = sa.select(C.id).where(C.vector_store_id.in_(vector_store_ids), tsv.op("@@")(sa.func.websearch_to_tsquery(_ENGLISH, websearch_query([term]))))
        counts.append(sa.select(sa.func.count()).select_from(hits.limit(cap).subquery()).scalar_subquery())
    return sa.select(*counts)


def choose_terms(counts: dict[str, int], pool: int, budget: int = KEYWORD_CANDIDATES) -> list[str]:
    """The query terms whose chunks become the keyword candidates: the rarest first, while
    they find fewer than `pool` chunks or the next still fits in `budget` chunks (counts as
    term_count_select gives them, capped above `budget`). Ranking every chunk that holds any
    query word costs time in proportion to those chunks (a word in most of 100,000 chunks:
    over 100 ms on SQLite, 1 s on PostgreSQL); the chunks holding only the commonest words
    rank last under bm25 anyway. When the rarer words alone exceed the budget, every word is
    kept. The caller searches with every term when the candidates come to fewer than `pool`."""
    chosen: list[str] = []
    total = 0
    for term in sorted(counts, key=lambda t: (counts[t], t)):
        n = counts[term]
        if chosen and total >= pool and total + n > budget:
            break
        chosen.append(term)
        total += n
    if total > budget:  # even the rarer words hold more than the budget: no word is left out
        return list(counts)
    return [t for t in counts if t in chosen]  # the query's own order


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
