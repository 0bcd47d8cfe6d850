"""Alembic environment: runs on the connection Onward hands it (see store/db.py)."""

from alembic import context

from onward.store.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - Onward always passes a connection
    raise RuntimeError("run migrations through `onward.store.db.migrate`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
