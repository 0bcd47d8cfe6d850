"""Search: attribute filters compiled to SQL, keyword and vector candidates, fusion, scores.

Filters run inside the candidate queries. A file's attributes are typed rows of
vector_store_file_attributes (key, kind, str_value | num_value), so every comparison is a
correlated EXISTS on an indexed (vector_store_id, key, value) range, identical on SQLite and
PostgreSQL, and numbers compare as numbers, strings as strings. A file without the key
matches `ne` and `nin` and nothing else.

Scores are 0–1. Keyword only (the default): coverage × (0.5 + 0.5 × rank / best rank), so the
best chunk holding every query word scores 1. With embeddings: keyword and cosine lists are
fused by reciprocal rank (k = 60), scaled so that first in every list scores 1. The cosine list
comes from the database's vector index (sqlite-vec, pgvector), filtered in the same query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import invalid
from ..store import vector_index
from ..store.models import vector_store_chunks, vector_store_file_attributes, vector_store_files
from . import index
from .embeddings import Embedder

log = logging.getLogger("onward.retrieval")
A, C, F = vector_store_file_attributes.c, vector_store_chunks.c, vector_store_files.c
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
RRF_K = 60
TERM_COUNT_TTL = 60.0

# -- filters ---------------------------------------------------------------------------------


def validate_filter(raw: Any, param: str = "filters", depth: int = 0) -> dict[str, Any]:
    """Check a ComparisonFilter / CompoundFilter tree; a 400 names the field at fault."""
    if not isinstance(raw, dict):
        raise invalid(f"Invalid type for '{param}': expected an object.", param, "invalid_type")
    kind = raw.get("type")
    if kind in ("and", "or"):
        extra = sorted(set(raw) - {"type", "filters"})
        if extra:
            raise invalid(f"Unknown parameter: '{param}.{extra[0]}'.", f"{param}.{extra[0]}", "unknown_parameter")
        subs = raw.get("filters")
        if not isinstance(subs, list):
            raise invalid(f"Invalid type for '{param}.filters': expected an array of filters.", f"{param}.filters", "invalid_type")
        if depth > 8:
            raise invalid(f"'{param}' nests too deeply (at most 8 levels).", param)
        return {"type": kind, "filters": [validate_filter(s, f"{param}.filters[{i}]", depth + 1) for i, s in enumerate(subs)]}
    if kind not in COMPARISONS:
        raise invalid(f"Invalid value for '{param}.type': {kind!r}. Supported values are: {', '.join(COMPARISONS)}, and, or.", f"{param}.type")
    extra = sorted(set(raw) - {"type", "key", "value"})
    if extra:
        raise invalid(f"Unknown parameter: '{param}.{extra[0]}'.", f"{param}.{extra[0]}", "unknown_parameter")
    key, value = raw.get("key"), raw.get("value", ...)
    if not isinstance(key, str) or not key:
        raise invalid(f"Missing required parameter: '{param}.key'.", f"{param}.key", "missing_required_parameter")
    if value is ...:
        raise invalid(f"Missing required parameter: '{param}.value'.", f"{param}.value", "missing_required_parameter")
    if kind in ("in", "nin"):
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            raise invalid(f"Invalid type for '{param}.value': '{kind}' takes an array of strings or numbers.", f"{param}.value", "invalid_type")
    elif not isinstance(value, str | int | float | bool):
        raise invalid(f"Invalid type for '{param}.value': '{kind}' takes a string, number or boolean.", f"{param}.value", "invalid_type")
    return {"type": kind, "key": key, "value": value}


def _typed(value: Any) -> tuple[str, Any, Any]:
    """(kind, column, value) for one scalar."""
    if isinstance(value, bool):
        return "b", A.num_value, 1.0 if value else 0.0
    if isinstance(value, int | float):
        return "n", A.num_value, float(value)
    return "s", A.str_value, value


def _attr_exists(vs_col: Any, file_col: Any, key: str, condition: Any) -> Any:
    return sa.exists().where((A.vector_store_id == vs_col) & (A.file_id == file_col) & (A.key == key) & condition)


def compile_filter(flt: dict[str, Any], vs_col: Any = C.vector_store_id, file_col: Any = C.file_id) -> Any:
    """A validated filter as a SQL boolean over the rows whose (vector store, file) columns
    are `vs_col`, `file_col`."""
    kind = flt["type"]
    if kind in ("and", "or"):
        parts = [compile_filter(f, vs_col, file_col) for f in flt["filters"]]
        if not parts:
            return sa.true()
        return sa.and_(*parts) if kind == "and" else sa.or_(*parts)
    key, value = flt["key"], flt["value"]
    if kind in ("in", "nin"):
        options = []
        for tag, column in (("s", A.str_value), ("n", A.num_value)):
            wanted = [_typed(v)[2] for v in value if _typed(v)[0] == tag]
            if wanted:
                options.append((A.kind == tag) & column.in_(wanted))
        found = _attr_exists(vs_col, file_col, key, sa.or_(*options)) if options else sa.false()
        return found if kind == "in" else sa.not_(found)
    tag, column, typed = _typed(value)
    if kind in ("eq", "ne"):
        found = _attr_exists(vs_col, file_col, key, (A.kind == tag) & (column == typed))
        return found if kind == "eq" else sa.not_(found)
    op = {"gt": column > typed, "gte": column >= typed, "lt": column < typed, "lte": column <= typed}[kind]
    return _attr_exists(vs_col, file_col, key, (A.kind == tag) & op)


# -- scoring ---------------------------------------------------------------------------------


def keyword_scores(terms: list[str], rows: Sequence[Any]) -> dict[int, float]:
    """chunk id → 0–1 from (id, …, text, raw) rows, best first."""
    best = max((float(r.raw or 0) for r in rows), default=0.0)
    out = {}
    for r in rows:
        rel = float(r.raw or 0) / best if best > 0 else 1.0
        out[r.id] = index.coverage(terms, r.text) * (0.5 + 0.5 * max(0.0, min(1.0, rel)))
    return out


def fuse(lists: list[dict[int, float]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion of several id → score lists, scaled to 0–1. A single list keeps
    its own scores."""
    lists = [lst for lst in lists if lst]
    if len(lists) <= 1:
        return dict(lists[0]) if lists else {}
    fused: dict[int, float] = {}
    for lst in lists:
        for rank, cid in enumerate(sorted(lst, key=lambda c: (-lst[c], c)), start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank)
    top = len(lists) / (k + 1)
    return {cid: s / top for cid, s in fused.items()}


# -- the searcher ----------------------------------------------------------------------------


class Searcher:
    def __init__(self, engine: AsyncEngine, embedder: Embedder | None = None) -> None:
        self.engine = engine
        self.embedder = embedder
        self._count_cache: dict[tuple[str, ...], tuple[int, float]] = {}

    async def search(
        self, vector_store_ids: list[str], queries: list[str], *, max_num_results: int, filters: dict[str, Any] | None, score_threshold: float | None
    ) -> list[dict[str, Any]]:
        """The best chunks: [{vector_store_id, file_id, filename, score, attributes, text}]."""
        where = C.vector_store_id.in_(vector_store_ids)
        if filters:
            where = where & compile_filter(filters)
        pool = max(50, max_num_results * 5)
        terms = index.query_terms(queries)
        lists: list[dict[int, float]] = []
        texts: dict[int, Any] = {}
        async with self.engine.connect() as conn:
            if terms:
                rows = await self._keyword_rows(conn, terms, vector_store_ids, where, pool)
                texts.update({r.id: r for r in rows})
                lists.append(keyword_scores(terms, rows))
            if self.embedder is not None:
                lists.append(await self._vector_list(conn, queries, vector_store_ids, where, pool, filtered=bool(filters)))
            scores = fuse(lists)
            threshold = score_threshold or 0.0
            best = sorted((cid for cid, s in scores.items() if s >= threshold), key=lambda c: (-scores[c], c))[:max_num_results]
            missing = [cid for cid in best if cid not in texts]
            if missing:
                found = (await conn.execute(sa.select(C.id, C.vector_store_id, C.file_id, C.text).where(C.id.in_(missing)))).all()
                texts.update({r.id: r for r in found})
            pairs = {(texts[c].vector_store_id, texts[c].file_id) for c in best}
            files = await self._files(conn, pairs)
        out = []
        for cid in best:
            row = texts[cid]
            meta = files.get((row.vector_store_id, row.file_id), {})
            out.append(
                {
                    "vector_store_id": row.vector_store_id,
                    "file_id": row.file_id,
                    "filename": meta.get("filename", ""),
                    "score": round(scores[cid], 6),
                    "attributes": meta.get("attributes") or {},
                    "text": row.text,
                }
            )
        return out

    async def _keyword_rows(self, conn: Any, terms: list[str], vector_store_ids: list[str], where: Any, pool: int) -> list[Any]:
        """The keyword candidates, best first: first from the query's rarer words only (see
        index.choose_terms), then, if those find fewer than `pool` chunks, from all of them."""
        dialect = self.engine.dialect.name
        small = await self._store_size(conn, vector_store_ids) <= index.KEYWORD_CANDIDATES
        counts = await self._term_counts(conn, terms, vector_store_ids) if len(terms) > 1 and not small else {}
        match = index.choose_terms(counts, pool) if counts else terms
        rows = list((await conn.execute(index.keyword_select(dialect, terms, where, pool, vector_store_ids, match, small=small))).all())
        if len(rows) < pool and len(match) < len(terms):
            rows = list((await conn.execute(index.keyword_select(dialect, terms, where, pool, vector_store_ids))).all())
        return rows

    async def _store_size(self, conn: Any, vector_store_ids: list[str]) -> int:
        """Chunks in the stores, counted up to KEYWORD_CANDIDATES + 1 (enough to tell a small
        store), kept for TERM_COUNT_TTL seconds."""
        key = ("", *sorted(vector_store_ids))
        now = time.monotonic()
        size = self._count_cache.get(key)
        if size is None or size[1] <= now:
            size = (int((await conn.execute(index.store_size_select(vector_store_ids, index.KEYWORD_CANDIDATES + 1))).scalar() or 0), now + TERM_COUNT_TTL)
            self._count_cache[key] = size
        return size[0]

    async def _term_counts(self, conn: Any, terms: list[str], vector_store_ids: list[str]) -> dict[str, int]:
        """Chunks of the stores holding each term, capped just above the candidate budget, in
        one statement; kept for TERM_COUNT_TTL seconds (the figures only steer which words pick
        the candidates). Asked only of stores above the budget (a small store's every chunk
        may be a candidate: no word need be left out)."""
        stores = tuple(sorted(vector_store_ids))
        now = time.monotonic()
        cap = index.KEYWORD_CANDIDATES + 1
        out: dict[str, int] = {}
        for term in terms:
            hit = self._count_cache.get((term, *stores))
            if hit is not None and hit[1] > now:
                out[term] = hit[0]
        todo = [t for t in terms if t not in out]
        if todo:
            row = (await conn.execute(index.term_counts_select(self.engine.dialect.name, todo, vector_store_ids, cap))).one()
            if len(self._count_cache) >= 10_000:
                self._count_cache.clear()
            for term, n in zip(todo, row, strict=True):
                out[term] = int(n or 0)
                self._count_cache[(term, *stores)] = (out[term], now + TERM_COUNT_TTL)
        return {t: out[t] for t in terms}

    async def _vector_list(self, conn: Any, queries: list[str], vector_store_ids: list[str], where: Any, limit: int, *, filtered: bool) -> dict[int, float]:
        """chunk id → cosine similarity (> 0) of the `limit` chunks nearest to any query, from
        the database's vector index (store/vector_index.py), `where` applied in the same query."""
        assert self.embedder is not None
        try:
            qvecs = await self.embedder.embed(queries)
        except Exception as exc:  # keyword results still answer
            log.warning("query embedding failed, searching by keywords only: %s", exc)
            return {}
        best: dict[int, float] = {}
        for qvec in qvecs:
            for cid, sim in await vector_index.nearest(conn, qvec, self.embedder.name, vector_store_ids, where, limit, filtered=filtered):
                if sim > 0 and sim > best.get(cid, 0.0):
                    best[cid] = min(1.0, sim)
        top = sorted(best, key=lambda c: (-best[c], c))[:limit]
        return {cid: best[cid] for cid in top}

    async def _files(self, conn: Any, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        if not pairs:
            return {}
        cond = sa.or_(*((F.vector_store_id == vs) & (F.file_id == fid) for vs, fid in pairs))
        rows = (await conn.execute(sa.select(F.vector_store_id, F.file_id, F.filename, F.attributes).where(cond))).all()
        return {(r.vector_store_id, r.file_id): {"filename": r.filename, "attributes": orjson.loads(r.attributes) if r.attributes else {}} for r in rows}
