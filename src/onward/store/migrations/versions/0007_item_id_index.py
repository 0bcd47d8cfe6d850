"""Indexes on item ids, so `item_reference` inputs resolve any stored item (a response's input
or output, a conversation's item) by id in one indexed lookup.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_response_items_item_id", "response_items", ["item_id"])
    op.create_index("ix_conversation_items_item_id", "conversation_items", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_conversation_items_item_id", "conversation_items")
    op.drop_index("ix_response_items_item_id", "response_items")
