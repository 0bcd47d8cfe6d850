"""Chunk vectors in the database's own index (store/vector_index.py): one table per dimension,
a sqlite-vec vec0 table of binary sketches on SQLite (the float vectors stay in their chunk
rows, for re-ranking), a pgvector table with an HNSW index on PostgreSQL (the float vectors
move there from the chunk rows). Before, every search read every vector of the store.

On PostgreSQL this creates the `vector` extension. Where pgvector is not installed, a database
that holds no vectors yet upgrades anyway (with a warning: keyword search needs no
extension, and Onward refuses to start with embeddings configured until it is installed); one
that holds vectors stops here with the instructions (vector_index.PGVECTOR_HELP).

Revision ID: 0010
Revises: 0009
"""

import logging

import numpy as np
import sqlalchemy as sa
from alembic import op

from onward.store import vector_index
from onward.store.sqlite_extensions import load_error

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

log = logging.getLogger("onward.store")
BATCH = 2000


def _dims(bind: sa.Connection) -> list[int]:
    rows = bind.execute(sa.text("SELECT DISTINCT length(embedding) / 4 FROM vector_store_chunks WHERE embedding IS NOT NULL"))
    return sorted(int(r[0]) for r in rows if r[0])


def _sqlite_vec_loaded(bind: sa.Connection) -> bool:
    try:
        with bind.begin_nested():
            bind.execute(sa.text("SELECT vec_version()"))
        return True
    except sa.exc.DBAPIError:
        return False


def _pg_extension(bind: sa.Connection, needed: bool) -> bool:
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
        return True
    except sa.exc.DBAPIError as exc:
        if needed:
            raise RuntimeError(f"This database holds chunk vectors, and CREATE EXTENSION vector failed ({exc.orig}). {vector_index.PGVECTOR_HELP}") from exc
        log.warning("CREATE EXTENSION vector failed (%s): keyword search works; vector search will not until pgvector is installed.", exc.orig)
        return False


def _move_pg(bind: sa.Connection, dim: int) -> None:
    """Copy the float32 blobs of `dim` into chunk_vectors_<dim>, then clear them, by id ranges."""
    insert = sa.text(vector_index.insert_sql("postgresql", dim))
    last = -1
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, vector_store_id, coalesce(embedding_model, '') AS model, embedding FROM vector_store_chunks "
                "WHERE embedding IS NOT NULL AND length(embedding) = :n AND id > :last ORDER BY id LIMIT :batch"
            ),
            {"n": dim * 4, "last": last, "batch": BATCH},
        ).all()
        if not rows:
            break
        params = [
            {"chunk_id": r.id, "vector_store_id": r.vector_store_id, "model": r.model, "embedding": vector_index.pg_text(np.frombuffer(r.embedding, dtype=np.float32))}
            for r in rows
        ]
        bind.execute(insert, params)
        last = rows[-1].id
    bind.execute(sa.text("UPDATE vector_store_chunks SET embedding = NULL WHERE embedding IS NOT NULL AND length(embedding) = :n"), {"n": dim * 4})
    # statistics now: without them the planner takes a large store for a small one and sorts
    # every vector instead of walking the HNSW index
    bind.execute(sa.text(f"ANALYZE {vector_index.table_name(dim)}"))


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    dims = _dims(bind)
    if dialect == "sqlite":
        if dims and not _sqlite_vec_loaded(bind):
            why = load_error() or "sqlite-vec is not loaded into this connection (open it with onward.store.db.make_engine)"
            raise RuntimeError(f"This database holds chunk vectors, and {why}. Install the `sqlite-vec` package (pip install sqlite-vec).")
    elif not _pg_extension(bind, needed=bool(dims)):
        return
    for dim in dims:
        for statement in vector_index.ddl(dialect, dim):
            op.execute(statement)
        if dialect == "sqlite":
            if vector_index.indexed(dialect, dim):
                op.execute(
                    f"INSERT INTO {vector_index.table_name(dim)}(chunk_id, vector_store_id, model, embedding) "
                    "SELECT id, vector_store_id, coalesce(embedding_model, ''), vec_quantize_binary(embedding) FROM vector_store_chunks "
                    f"WHERE embedding IS NOT NULL AND length(embedding) = {dim * 4}"
                )
        else:
            _move_pg(bind, dim)


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    names = bind.execute(sa.text(vector_index.dims_query(dialect))).scalars().all()
    for dim in sorted(vector_index.parse_dims(names)):
        name = vector_index.table_name(dim)
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}_ad")
        else:  # the float vectors go back into their chunk rows
            rows = bind.execute(sa.text(f"SELECT chunk_id, embedding::text AS e FROM {name}")).all()
            for r in rows:
                blob = np.array([float(x) for x in r.e.strip("[]").split(",")], dtype=np.float32).tobytes()
                bind.execute(sa.text("UPDATE vector_store_chunks SET embedding = :b WHERE id = :id"), {"b": blob, "id": r.chunk_id})
        op.execute(f"DROP TABLE IF EXISTS {name}")
