"""SQLite: the chunks' FTS5 table also indexes vector_store_id, so keyword search puts the
store in its MATCH expression and walks only that store's postings (before, it matched the
whole database and filtered by store afterwards: a 1,000-chunk store's search slowed 5× as a
neighbour store grew to 100k chunks; see bench/retrieval). Rebuilt from vector_store_chunks.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TOKENIZE = "tokenize='porter unicode61 remove_diacritics 2'"


def _drop() -> None:
    op.execute("DROP TRIGGER IF EXISTS vector_store_chunks_au")
    op.execute("DROP TRIGGER IF EXISTS vector_store_chunks_ad")
    op.execute("DROP TRIGGER IF EXISTS vector_store_chunks_ai")
    op.execute("DROP TABLE IF EXISTS vector_store_chunks_fts")


def _create(columns: list[str]) -> None:
    """An external-content FTS5 table over `columns` of vector_store_chunks, its triggers, and
    a rebuild from the chunks already there."""
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    op.execute(f"CREATE VIRTUAL TABLE vector_store_chunks_fts USING fts5({cols}, content='vector_store_chunks', content_rowid='id', {_TOKENIZE})")
    op.execute(
        "CREATE TRIGGER vector_store_chunks_ai AFTER INSERT ON vector_store_chunks BEGIN "
        f"INSERT INTO vector_store_chunks_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER vector_store_chunks_ad AFTER DELETE ON vector_store_chunks BEGIN "
        f"INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER vector_store_chunks_au AFTER UPDATE OF {cols} ON vector_store_chunks BEGIN "
        f"INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO vector_store_chunks_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )
    op.execute("INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL filters the store by a btree column next to its GIN index (0005)
    _drop()
    _create(["vector_store_id", "text"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop()
    _create(["text"])
