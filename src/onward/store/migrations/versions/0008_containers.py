"""Containers (code interpreter) and their files. A container's files are bytes in its own
directory under the data directory; rows say which ones exist.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "containers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("last_active_at", sa.Integer, nullable=False),
        sa.Column("expires_minutes", sa.Integer, nullable=False),
        sa.Column("memory_limit", sa.String(8), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),  # e.g. the thread it serves
    )
    op.create_index("ix_containers_created", "containers", ["created_ns", "id"])
    op.create_index("ix_containers_owner", "containers", ["owner"])
    op.create_table(
        "container_files",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("container_id", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_container_files_container", "container_files", ["container_id", "created_ns", "id"])


def downgrade() -> None:
    op.drop_table("container_files")
    op.drop_table("containers")
