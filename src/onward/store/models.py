"""The schema: one set of tables for SQLite and PostgreSQL.

JSON payloads are stored as text (orjson on both engines) so the schema is identical
everywhere. Ordered children (items, events) are keyed by (parent, position) so any page or a
whole history is one indexed range scan.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

responses = sa.Table(
    "responses",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("background", sa.Boolean, nullable=False, default=False),
    sa.Column("store", sa.Boolean, nullable=False, default=True),
    sa.Column("previous_response_id", sa.String(64), nullable=True, index=True),
    sa.Column("conversation_id", sa.String(64), nullable=True, index=True),
    sa.Column("request", sa.Text, nullable=False),  # the validated create parameters
    sa.Column("body", sa.Text, nullable=False),  # the response object as last written
    sa.Column("owner", sa.String(64), nullable=True),  # worker running it
    sa.Column("lease_until", sa.Float, nullable=True),  # owner must renew before this
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_responses_status_created", "status", "created_at"),
)

response_items = sa.Table(
    "response_items",
    metadata,
    sa.Column("response_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),  # input | output
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)

response_events = sa.Table(
    "response_events",
    metadata,
    sa.Column("response_id", sa.String(64), primary_key=True),
    sa.Column("sequence_number", sa.Integer, primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("next_position", sa.BigInteger, nullable=False, default=0),
    sa.Column("locked_by", sa.String(64), nullable=True),  # the response running on it
    sa.Column("locked_until", sa.Float, nullable=True),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
)

conversation_items = sa.Table(
    "conversation_items",
    metadata,
    sa.Column("conversation_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Index("ix_conversation_items_item", "conversation_id", "item_id", unique=True),
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Integer, nullable=False),  # unix seconds, as the API shows it
    sa.Column("created_ns", sa.BigInteger, nullable=False),  # ordering key for pages (with id)
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_details", sa.Text, nullable=True),
    sa.Column("expires_at", sa.Integer, nullable=True, index=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("storage_key", sa.String(255), nullable=False),  # where the Blobs keep the bytes
    sa.Index("ix_files_created", "created_ns", "id"),
    sa.Index("ix_files_purpose_created", "purpose", "created_ns", "id"),
)
