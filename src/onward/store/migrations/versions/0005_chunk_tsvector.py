"""PostgreSQL: a stored tsvector per chunk, so keyword search neither re-parses every chunk's
text to filter nor again to rank (seconds at 10k chunks before; see bench/retrieval).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps its FTS5 table
    op.execute(
        "ALTER TABLE vector_store_chunks ADD COLUMN tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED"
    )
    op.execute("DROP INDEX IF EXISTS ix_vector_store_chunks_tsv")
    op.execute("CREATE INDEX ix_vector_store_chunks_tsv ON vector_store_chunks USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_vector_store_chunks_tsv")
    op.execute("ALTER TABLE vector_store_chunks DROP COLUMN tsv")
    op.execute("CREATE INDEX ix_vector_store_chunks_tsv ON vector_store_chunks USING gin (to_tsvector('english'::regconfig, text))")
