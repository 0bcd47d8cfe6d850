"""Vector stores, their files and batches, chunks with a keyword index, file attributes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vector_stores",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("expires_after", sa.Text, nullable=True),
        sa.Column("expires_at", sa.Integer, nullable=True),
        sa.Column("last_active_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_vector_stores_created", "vector_stores", ["created_ns", "id"])

    op.create_table(
        "vector_store_files",
        sa.Column("vector_store_id", sa.String(64), primary_key=True),
        sa.Column("file_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("chunking_strategy", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text, nullable=True),
        sa.Column("usage_bytes", sa.BigInteger, nullable=False),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("ingest_token", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
    )
    op.create_index("ix_vector_store_files_created", "vector_store_files", ["vector_store_id", "created_ns", "file_id"])
    op.create_index("ix_vector_store_files_batch", "vector_store_files", ["batch_id"])
    op.create_index("ix_vector_store_files_status_lease", "vector_store_files", ["status", "lease_until"])
    op.create_index("ix_vector_store_files_file", "vector_store_files", ["file_id"])

    op.create_table(
        "vector_store_file_batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("cancelled", sa.Boolean, nullable=False),
    )
    op.create_index("ix_vector_store_file_batches_vector_store_id", "vector_store_file_batches", ["vector_store_id"])

    op.create_table(
        "vector_store_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=True),
        sa.Column("embedding_model", sa.String(200), nullable=True),
    )
    op.create_index("ix_vector_store_chunks_file", "vector_store_chunks", ["vector_store_id", "file_id", "position"])

    op.create_table(
        "vector_store_file_attributes",
        sa.Column("vector_store_id", sa.String(64), primary_key=True),
        sa.Column("file_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("str_value", sa.String(512), nullable=True),
        sa.Column("num_value", sa.Float, nullable=True),
    )
    op.create_index("ix_vector_store_file_attributes_str", "vector_store_file_attributes", ["vector_store_id", "key", "str_value"])
    op.create_index("ix_vector_store_file_attributes_num", "vector_store_file_attributes", ["vector_store_id", "key", "num_value"])

    if op.get_bind().dialect.name == "sqlite":
        # An external-content FTS5 index over the chunks' text, kept in step by triggers.
        op.execute(
            "CREATE VIRTUAL TABLE vector_store_chunks_fts USING fts5("
            "text, content='vector_store_chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER vector_store_chunks_ai AFTER INSERT ON vector_store_chunks BEGIN "
            "INSERT INTO vector_store_chunks_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER vector_store_chunks_ad AFTER DELETE ON vector_store_chunks BEGIN "
            "INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
        )
        op.execute(
            "CREATE TRIGGER vector_store_chunks_au AFTER UPDATE OF text ON vector_store_chunks BEGIN "
            "INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); "
            "INSERT INTO vector_store_chunks_fts(rowid, text) VALUES (new.id, new.text); END"
        )
    else:
        op.execute("CREATE INDEX ix_vector_store_chunks_tsv ON vector_store_chunks USING gin (to_tsvector('english'::regconfig, text))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS vector_store_chunks_au")
        op.execute("DROP TRIGGER IF EXISTS vector_store_chunks_ad")
        op.execute("DROP TRIGGER IF EXISTS vector_store_chunks_ai")
        op.execute("DROP TABLE IF EXISTS vector_store_chunks_fts")
    op.drop_table("vector_store_file_attributes")
    op.drop_table("vector_store_chunks")
    op.drop_table("vector_store_file_batches")
    op.drop_table("vector_store_files")
    op.drop_table("vector_stores")
