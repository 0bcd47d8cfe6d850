"""Token estimates stored with history items, so a model request reads a long history from its
tail only as far as the model's window reaches (engine/history.py):

* conversation_items.tokens (items.estimate_tokens of the item) and .total_tokens (running sum
  over the conversation, by position); conversations.total_tokens (the sum so far);
* response_items.tokens and responses.tokens (the sum over the response's items), so a
  `previous_response_id` chain is walked back only until the window is covered.

Existing rows are backfilled here with the same formula in SQL (`length(data) / 4 + 1`, a
window function for the running sums), in batches of conversations and responses, on SQLite
(3.33+: UPDATE … FROM) and PostgreSQL alike. Backfilling rather than leaving NULL ("count on
read") keeps old long histories as cheap as new ones; the readers still treat a NULL as
"unknown" and then read everything, as before.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 500  # conversations or responses per statement

ESTIMATE = "length(data) / 4 + 1"  # store/items.py estimate_tokens, in SQL


def upgrade() -> None:
    op.add_column("conversations", sa.Column("total_tokens", sa.BigInteger, nullable=False, server_default="0"))
    op.add_column("conversation_items", sa.Column("tokens", sa.Integer, nullable=True))
    op.add_column("conversation_items", sa.Column("total_tokens", sa.BigInteger, nullable=True))
    op.add_column("response_items", sa.Column("tokens", sa.Integer, nullable=True))
    op.add_column("responses", sa.Column("tokens", sa.BigInteger, nullable=True))
    conn = op.get_bind()
    for ids in _batches(conn, "SELECT id FROM conversations ORDER BY id"):
        params = {f"i{k}": v for k, v in enumerate(ids)}
        among = ", ".join(f":i{k}" for k in range(len(ids)))
        conn.execute(
            sa.text(
                f"UPDATE conversation_items SET tokens = {ESTIMATE}, total_tokens = s.t FROM ("
                f"SELECT conversation_id AS cid, position AS pos, SUM({ESTIMATE}) OVER (PARTITION BY conversation_id ORDER BY position) AS t "
                f"FROM conversation_items WHERE conversation_id IN ({among})) AS s "
                "WHERE conversation_items.conversation_id = s.cid AND conversation_items.position = s.pos"
            ),
            params,
        )
        conn.execute(
            sa.text(
                "UPDATE conversations SET total_tokens = COALESCE((SELECT MAX(total_tokens) FROM conversation_items "
                f"WHERE conversation_items.conversation_id = conversations.id), 0) WHERE id IN ({among})"
            ),
            params,
        )
    for ids in _batches(conn, "SELECT id FROM responses ORDER BY id"):
        params = {f"i{k}": v for k, v in enumerate(ids)}
        among = ", ".join(f":i{k}" for k in range(len(ids)))
        conn.execute(sa.text(f"UPDATE response_items SET tokens = {ESTIMATE} WHERE response_id IN ({among})"), params)
        conn.execute(
            sa.text(
                "UPDATE responses SET tokens = COALESCE((SELECT SUM(tokens) FROM response_items "
                f"WHERE response_items.response_id = responses.id), 0) WHERE id IN ({among})"
            ),
            params,
        )


def _batches(conn, query: str):
    ids = [r[0] for r in conn.execute(sa.text(query))]
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def downgrade() -> None:
    op.drop_column("responses", "tokens")
    op.drop_column("response_items", "tokens")
    op.drop_column("conversation_items", "total_tokens")
    op.drop_column("conversation_items", "tokens")
    op.drop_column("conversations", "total_tokens")
