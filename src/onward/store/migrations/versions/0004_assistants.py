"""Assistants v2: assistants, thread tool_resources, message fields, runs, steps, run events.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assistants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_assistants_created", "assistants", ["created_ns", "id"])
    op.create_table(
        "assistant_threads",
        sa.Column("thread_id", sa.String(64), primary_key=True),
        sa.Column("tool_resources", sa.Text, nullable=False),
    )
    op.create_table(
        "assistant_messages",
        sa.Column("thread_id", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("assistant_id", sa.String(64), nullable=True),
        sa.Column("attachments", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("extra", sa.Text, nullable=True),
    )
    op.create_index("ix_assistant_messages_run", "assistant_messages", ["thread_id", "run_id"])
    op.create_table(
        "assistant_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("thread_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_assistant_runs_thread", "assistant_runs", ["thread_id", "created_ns", "id"])
    op.create_index("ix_assistant_runs_status", "assistant_runs", ["status", "created_ns"])
    op.create_table(
        "assistant_run_steps",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_assistant_run_steps_run", "assistant_run_steps", ["run_id", "created_ns", "id"])
    op.create_table(
        "assistant_run_events",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("event", sa.String(48), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("assistant_run_events")
    op.drop_table("assistant_run_steps")
    op.drop_table("assistant_runs")
    op.drop_table("assistant_messages")
    op.drop_table("assistant_threads")
    op.drop_table("assistants")
