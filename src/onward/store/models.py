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
    sa.Column("tokens", sa.BigInteger, nullable=True),  # sum of its items' estimates (migration 0009)
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
    sa.Column("tokens", sa.Integer, nullable=True),  # items.estimate_tokens (migration 0009)
    sa.Index("ix_response_items_item_id", "item_id"),  # item_reference lookups (migration 0007)
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
    sa.Column("total_tokens", sa.BigInteger, nullable=False, default=0, server_default="0"),  # sum of its items' estimates
)

conversation_items = sa.Table(
    "conversation_items",
    metadata,
    sa.Column("conversation_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("tokens", sa.Integer, nullable=True),  # items.estimate_tokens (migration 0009)
    sa.Column("total_tokens", sa.BigInteger, nullable=True),  # running sum of tokens up to this item
    sa.Index("ix_conversation_items_item", "conversation_id", "item_id", unique=True),
    sa.Index("ix_conversation_items_item_id", "item_id"),  # item_reference lookups (migration 0007)
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
    sa.Column("storage_key", sa.String(255), nullable=False),  # where the bytes went: Blobs.location (local dir@host, s3:bucket/prefix)
    sa.Index("ix_files_created", "created_ns", "id"),
    sa.Index("ix_files_purpose_created", "purpose", "created_ns", "id"),
)

# -- vector stores (migration 0003) ----------------------------------------------------------
# A file attached to a store is a row of vector_store_files; its parsed text is split into
# vector_store_chunks (keyword index: FTS5 on SQLite, a GIN index on to_tsvector on PostgreSQL,
# both created in the migration; an optional float32 embedding per chunk, indexed in the
# per-dimension tables of vector_index.py (created at run time, or by migration 0010): on
# PostgreSQL the vector lives in that pgvector table only and `embedding` stays NULL). Its
# attributes are also kept as typed rows of vector_store_file_attributes so search filters
# run inside SQL.

vector_stores = sa.Table(
    "vector_stores",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("expires_after", sa.Text, nullable=True),  # JSON {anchor, days}
    sa.Column("expires_at", sa.Integer, nullable=True),
    sa.Column("last_active_at", sa.Integer, nullable=False),
    sa.Index("ix_vector_stores_created", "created_ns", "id"),
)

vector_store_files = sa.Table(
    "vector_store_files",
    metadata,
    sa.Column("vector_store_id", sa.String(64), primary_key=True),
    sa.Column("file_id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=True),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # in_progress | completed | failed | cancelled
    sa.Column("last_error", sa.Text, nullable=True),  # JSON {code, message}
    sa.Column("chunking_strategy", sa.Text, nullable=False),  # JSON, the response form
    sa.Column("attributes", sa.Text, nullable=True),  # JSON, as the client sent them
    sa.Column("usage_bytes", sa.BigInteger, nullable=False),
    sa.Column("content", sa.Text, nullable=True),  # the parsed text, once completed
    sa.Column("ingest_token", sa.String(64), nullable=True),  # the ingestion allowed to finish it
    sa.Column("owner", sa.String(64), nullable=True),  # the process ingesting it
    sa.Column("lease_until", sa.Float, nullable=True),  # the owner renews before this
    sa.Index("ix_vector_store_files_created", "vector_store_id", "created_ns", "file_id"),
    sa.Index("ix_vector_store_files_batch", "batch_id"),
    sa.Index("ix_vector_store_files_status_lease", "status", "lease_until"),
    sa.Index("ix_vector_store_files_file", "file_id"),
)

vector_store_file_batches = sa.Table(
    "vector_store_file_batches",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("vector_store_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("cancelled", sa.Boolean, nullable=False, default=False),
)

vector_store_chunks = sa.Table(
    "vector_store_chunks",
    metadata,
    # INTEGER PRIMARY KEY on SQLite: the rowid the FTS5 index points at
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("vector_store_id", sa.String(64), nullable=False),
    sa.Column("file_id", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("embedding", sa.LargeBinary, nullable=True),  # float32, L2-normalised (SQLite only, see above)
    sa.Column("embedding_model", sa.String(200), nullable=True),
    sa.Index("ix_vector_store_chunks_file", "vector_store_id", "file_id", "position"),
)

vector_store_file_attributes = sa.Table(
    "vector_store_file_attributes",
    metadata,
    sa.Column("vector_store_id", sa.String(64), primary_key=True),
    sa.Column("file_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(1), nullable=False),  # s(tring) | n(umber) | b(oolean)
    sa.Column("str_value", sa.String(512), nullable=True),
    sa.Column("num_value", sa.Float, nullable=True),  # numbers, and booleans as 0/1
    sa.Index("ix_vector_store_file_attributes_str", "vector_store_id", "key", "str_value"),
    sa.Index("ix_vector_store_file_attributes_num", "vector_store_id", "key", "num_value"),
)

# -- assistants (migration 0004) ---------------------------------------------------------------
# The Assistants face keeps only what the Responses side has no place for: assistants, the
# per-thread tool_resources, per-message Assistants fields, runs with their steps and events.
# A thread IS a conversations row; a message IS a conversation_items row.

assistants = sa.Table(
    "assistants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the assistant object
    sa.Index("ix_assistants_created", "created_ns", "id"),
)

assistant_threads = sa.Table(
    "assistant_threads",
    metadata,
    sa.Column("thread_id", sa.String(64), primary_key=True),  # = conversations.id
    sa.Column("tool_resources", sa.Text, nullable=False),  # JSON, the thread's tool_resources
)

assistant_messages = sa.Table(
    "assistant_messages",
    metadata,
    sa.Column("thread_id", sa.String(64), primary_key=True),  # = conversation_items.conversation_id
    sa.Column("message_id", sa.String(64), primary_key=True),  # = conversation_items.item_id
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("assistant_id", sa.String(64), nullable=True),
    sa.Column("attachments", sa.Text, nullable=False),  # JSON list
    sa.Column("metadata", sa.Text, nullable=False),  # JSON object
    sa.Column("extra", sa.Text, nullable=True),  # JSON: status details (incomplete_details, …)
    sa.Index("ix_assistant_messages_run", "thread_id", "run_id"),
)

assistant_runs = sa.Table(
    "assistant_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("thread_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=True),
    sa.Column("body", sa.Text, nullable=False),  # the run object as last written
    sa.Column("request", sa.Text, nullable=False),  # what the executor needs beyond the body
    sa.Column("owner", sa.String(64), nullable=True),  # the worker executing it
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_assistant_runs_thread", "thread_id", "created_ns", "id"),
    sa.Index("ix_assistant_runs_status", "status", "created_ns"),
)

assistant_run_steps = sa.Table(
    "assistant_run_steps",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the run step object
    sa.Index("ix_assistant_run_steps_run", "run_id", "created_ns", "id"),
)

assistant_run_events = sa.Table(
    "assistant_run_events",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("event", sa.String(48), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)

containers = sa.Table(
    "containers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("last_active_at", sa.Integer, nullable=False),
    sa.Column("expires_minutes", sa.Integer, nullable=False),
    sa.Column("memory_limit", sa.String(8), nullable=False),
    sa.Column("owner", sa.String(64), nullable=True),
)

container_files = sa.Table(
    "container_files",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("container_id", sa.String(64), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)
