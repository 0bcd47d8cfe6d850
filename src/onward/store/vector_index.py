"""Chunk vectors in the database's own index: sqlite-vec on SQLite, pgvector on PostgreSQL.

One table per vector dimension, `chunk_vectors_<dim>` (a configured embedding model fixes the
dimension; two models of one dimension share a table and are told apart by `model`), created
when the first vector of that dimension is stored (or by migration 0010 for older vectors):

- SQLite: a sqlite-vec `vec0` virtual table partitioned by (vector_store_id, model), holding
  a binary sketch of each vector (`bit[dim]`, the sign of each component). A search takes the
  2 × pool nearest sketches by Hamming distance inside the searched stores' partitions
  (about 12 ms for 100k vectors, where exact float KNN in vec0 took 110 ms), then ranks
  those candidates by exact cosine on the float32 vector kept in
  vector_store_chunks.embedding, with the attribute filter in the same statement. A trigger
  on vector_store_chunks deletes a chunk's sketch.
- PostgreSQL: a table of `vector(dim)` with an HNSW index (vector_cosine_ops) and a foreign key
  to the chunk, ON DELETE CASCADE; the float vector lives there only (not in the chunk row).
  Searches use pgvector's iterative index scan (≥ 0.8) so that a filter does not starve the
  result; the planner itself picks an exact scan of a small store through its btree index.

Either way, when a filter leaves fewer than `pool` results among the candidates, the search
is redone exactly over the filtered rows (they are few: most candidates failed the filter).
Dimensions without an index (not a multiple of 8 on SQLite, over 2,000 on PostgreSQL, HNSW's
limit) are searched exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from .models import vector_store_chunks
from .sqlite_extensions import load_error

C = vector_store_chunks.c
PREFIX = "chunk_vectors_"
_NAME = re.compile(r"^chunk_vectors_(\d+)$")
MAX_HNSW_DIM = 2000  # pgvector's HNSW limit for `vector`
KNN_MAX = 4096  # sqlite-vec's largest k
# Sketch candidates per store and query vector: sqlite-vec's KNN cost grows with k (100k
# sketches: 6 ms at k=50, 50 ms at k=400), and the exact re-rank needs only a margin over
# the pool.
KNN_CANDIDATES = 2
PGVECTOR_HELP = (
    "pgvector is required on PostgreSQL for vector search (ONWARD_EMBEDDINGS): install it in the database server "
    "(Debian/Ubuntu: `apt-get install postgresql-15-pgvector`, PGDG or Debian 13 packages; elsewhere build it from "
    "https://github.com/pgvector/pgvector), then run `CREATE EXTENSION vector` in the database once as a user allowed to "
    "(a superuser), or let Onward run it at startup. See docs/deployment.md."
)


class VectorIndexUnavailable(RuntimeError):
    """Vectors cannot be stored or searched on this database; the message says what to install."""


def table_name(dim: int) -> str:
    return f"{PREFIX}{int(dim)}"


def indexed(dialect: str, dim: int) -> bool:
    """Whether vectors of `dim` get an index (else they are searched exactly)."""
    return dim % 8 == 0 if dialect == "sqlite" else dim <= MAX_HNSW_DIM


def ddl(dialect: str, dim: int) -> list[str]:
    """The statements that create the table (and index, trigger) for vectors of `dim`."""
    name = table_name(dim)
    if dialect == "sqlite":
        if not indexed(dialect, dim):
            return []
        return [
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING vec0("
            f"chunk_id integer primary key, vector_store_id text partition key, model text partition key, embedding bit[{dim}])",
            f"CREATE TRIGGER IF NOT EXISTS {name}_ad AFTER DELETE ON vector_store_chunks BEGIN DELETE FROM {name} WHERE chunk_id = old.id; END",
        ]
    out = [
        f"CREATE TABLE IF NOT EXISTS {name} (chunk_id bigint PRIMARY KEY REFERENCES vector_store_chunks(id) ON DELETE CASCADE, "
        f"vector_store_id varchar(64) NOT NULL, model varchar(200) NOT NULL, embedding vector({dim}) NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ix_{name}_store ON {name} (vector_store_id, model)",
    ]
    if indexed(dialect, dim):
        out.append(f"CREATE INDEX IF NOT EXISTS ix_{name}_hnsw ON {name} USING hnsw (embedding vector_cosine_ops)")
    return out


def dims_query(dialect: str) -> str:
    if dialect == "sqlite":
        return "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'chunk_vectors_%'"
    return "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'chunk_vectors_%'"


def parse_dims(names: Sequence[str]) -> set[int]:
    return {int(m.group(1)) for n in names if (m := _NAME.match(n))}


def pg_text(vector: Any) -> str:
    """A vector in pgvector's text form ('[0.1,0.2,…]'), 9 significant digits (a float32
    exactly); 3× faster than pgvector.Vector.to_text's shortest float64 reprs."""
    return "[" + ",".join([f"{v:.9g}" for v in np.asarray(vector, dtype=np.float32).tolist()]) + "]"


def insert_sql(dialect: str, dim: int) -> str:
    """INSERT of one vector: params chunk_id, vector_store_id, model, embedding (float32 bytes on
    SQLite, pg_text on PostgreSQL)."""
    name = table_name(dim)
    if dialect == "sqlite":
        return f"INSERT INTO {name}(chunk_id, vector_store_id, model, embedding) VALUES (:chunk_id, :vector_store_id, :model, vec_quantize_binary(:embedding))"
    return f"INSERT INTO {name}(chunk_id, vector_store_id, model, embedding) VALUES (:chunk_id, :vector_store_id, :model, CAST(:embedding AS vector({dim})))"


# -- runtime (async) ---------------------------------------------------------------------------


async def unavailable(conn: Any) -> str | None:
    """Why vectors cannot be used on this connection's database (None: they can). On
    PostgreSQL, creates the extension if it is installed but not yet created."""
    if conn.dialect.name == "sqlite":
        return load_error()
    if (await conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'vector'"))).first():
        return None
    if not (await conn.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"))).first():
        return "the pgvector extension is not installed in this PostgreSQL server. " + PGVECTOR_HELP
    try:
        async with conn.begin_nested():
            await conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError as exc:
        return f"CREATE EXTENSION vector failed ({exc.orig}). " + PGVECTOR_HELP
    return None


async def check(engine: Any) -> None:
    """Raise VectorIndexUnavailable unless vectors can be stored and searched on `engine`."""
    async with engine.begin() as conn:
        problem = await unavailable(conn)
    if problem:
        raise VectorIndexUnavailable(problem)


async def existing_dims(conn: Any) -> set[int]:
    """The dimensions that have a vector table."""
    rows = (await conn.execute(sa.text(dims_query(conn.dialect.name)))).scalars().all()
    return parse_dims(rows)


async def ensure_tables(engine: Any, dims: set[int]) -> None:
    """Create the tables for `dims` that are missing, each in a transaction of its own, before
    the vectors' own transaction: on PostgreSQL the foreign key's lock on vector_store_chunks
    would otherwise deadlock with a concurrent ingestion that already inserted chunks.
    Concurrent creators queue on an advisory lock. Raises VectorIndexUnavailable when the
    extension is missing."""
    for dim in sorted(dims):
        async with engine.begin() as conn:
            dialect = conn.dialect.name
            if dim in await existing_dims(conn) or (dialect == "sqlite" and not indexed(dialect, dim)):
                continue
            problem = await unavailable(conn)
            if problem:
                raise VectorIndexUnavailable(problem)
            if dialect != "sqlite":
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(74737209, :dim)"), {"dim": dim})
            for statement in ddl(dialect, dim):
                await conn.execute(sa.text(statement))


async def store(conn: Any, vector_store_id: str, rows: list[tuple[int, str, bytes]]) -> None:
    """Index the vectors of new chunks: rows of (chunk_id, model, float32 bytes). Their
    tables must exist (ensure_tables)."""
    dialect = conn.dialect.name
    by_dim: dict[int, list[dict[str, Any]]] = {}
    for chunk_id, model, blob in rows:
        dim = len(blob) // 4
        value: Any = blob if dialect == "sqlite" else pg_text(np.frombuffer(blob, dtype=np.float32))
        by_dim.setdefault(dim, []).append({"chunk_id": chunk_id, "vector_store_id": vector_store_id, "model": model, "embedding": value})
    for dim, params in by_dim.items():
        if dialect == "sqlite" and not indexed(dialect, dim):
            continue  # searched exactly from vector_store_chunks.embedding
        for start in range(0, len(params), 500):
            await conn.execute(sa.text(insert_sql(dialect, dim)), params[start : start + 500])


def _vt(dim: int, dialect: str) -> Any:
    if dialect == "sqlite":
        kind: Any = sa.LargeBinary()
    else:
        from pgvector.sqlalchemy import VECTOR

        kind = VECTOR(dim)
    return sa.table(table_name(dim), sa.column("chunk_id", sa.BigInteger()), sa.column("vector_store_id", sa.String()), sa.column("model", sa.String()),
                    sa.column("embedding", kind), sa.column("k", sa.Integer()))


async def nearest(conn: Any, query: np.ndarray, model: str, vector_store_ids: list[str], where: Any, pool: int, *, filtered: bool) -> list[tuple[int, float]]:
    """Up to `pool` (chunk id, cosine similarity) pairs nearest to the unit vector `query`
    among the chunks of `model` that pass `where` (which holds the store and attribute
    filter on vector_store_chunks), best first. `filtered`: `where` holds an attribute filter,
    so that too few results mean the candidates must be widened."""
    dialect = conn.dialect.name
    dim = int(query.shape[0])
    if dim not in await existing_dims(conn) and not (dialect == "sqlite" and not indexed(dialect, dim)):
        return []
    if dialect == "sqlite":
        rows = await _sqlite_nearest(conn, query, dim, model, vector_store_ids, where, pool, filtered)
    else:
        rows = await _pg_nearest(conn, query, dim, model, vector_store_ids, where, pool, filtered)
    return [(int(cid), 1.0 - float(d)) for cid, d in rows]


async def _sqlite_nearest(conn: Any, query: np.ndarray, dim: int, model: str, vs_ids: list[str], where: Any, pool: int, filtered: bool) -> list[Any]:
    blob = np.asarray(query, dtype=np.float32).tobytes()
    dist = sa.func.vec_distance_cosine(C.embedding, blob)
    if indexed("sqlite", dim):
        vt, k = _vt(dim, "sqlite"), min(KNN_MAX, KNN_CANDIDATES * pool)
        sketch = sa.func.vec_quantize_binary(blob)
        knn = sa.union_all(
            *(
                sa.select(vt.c.chunk_id).where(vt.c.embedding.op("MATCH")(sketch), vt.c.k == k, vt.c.vector_store_id == vs, vt.c.model == model)
                for vs in vs_ids
            )
        ).subquery("knn")
        query_ = (
            sa.select(C.id, dist.label("d")).select_from(knn.join(vector_store_chunks, C.id == knn.c.chunk_id)).where(where).order_by(sa.literal_column("d"), C.id).limit(pool)
        )
        rows = list((await conn.execute(query_)).all())
        if len(rows) >= pool or not filtered:
            return rows
    exact = (
        sa.select(C.id, dist.label("d"))
        .where(where & (C.embedding_model == model) & C.embedding.is_not(None) & (sa.func.length(C.embedding) == dim * 4))
        .order_by(sa.literal_column("d"), C.id)
        .limit(pool)
    )
    return list((await conn.execute(exact)).all())


async def _pg_nearest(conn: Any, query: np.ndarray, dim: int, model: str, vs_ids: list[str], where: Any, pool: int, filtered: bool) -> list[Any]:
    from pgvector.sqlalchemy import VECTOR

    vt = _vt(dim, "postgresql")
    q = sa.cast(sa.literal(pg_text(query), sa.Text()), VECTOR(dim))
    dist = vt.c.embedding.op("<=>", return_type=sa.Float())(q)
    # the index's candidate list: at least the pool; iterative scans (pgvector >= 0.8) go on
    # past it while the filter rejects rows; both settings last to the end of the transaction
    await conn.execute(
        sa.text("SELECT set_config('hnsw.ef_search', :ef, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)"), {"ef": str(min(1000, max(40, 2 * pool)))}
    )
    base = sa.select(vt.c.chunk_id).select_from(vt.join(vector_store_chunks, C.id == vt.c.chunk_id)).where(vt.c.vector_store_id.in_(vs_ids), vt.c.model == model, where)
    rows = list((await conn.execute(base.add_columns(dist.label("d")).order_by(dist).limit(pool))).all())
    if len(rows) < pool and filtered and indexed("postgresql", dim):
        # abs() of a distance (never negative) is the same order, but no index matches it: exact
        rows = list((await conn.execute(base.add_columns(dist.label("d")).order_by(sa.func.abs(dist), vt.c.chunk_id).limit(pool))).all())
    rows.sort(key=lambda r: (r.d, r.chunk_id))  # relaxed_order may return near-ties out of order
    return rows
