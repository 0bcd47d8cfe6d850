"""Vector stores, their files and file batches: rows, counts, leases for ingestion.

A store's `file_counts`, `usage_bytes` and `status` are computed from its files with one
grouped query; a batch's from the files that carry its id. Chunks are written by
`finish_ingest` in the same transaction that marks the file completed, and only by the
ingestion whose `ingest_token` the row still holds: a file detached, re-attached or cancelled
meanwhile is never completed by a stale worker. Their vectors go into the database's vector
index in that transaction too (vector_index.py); deleting a chunk, by any path, deletes its
vector (a trigger on SQLite, a cascading foreign key on PostgreSQL).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import vector_index
from .models import (
    vector_store_chunks,
    vector_store_file_attributes,
    vector_store_file_batches,
    vector_store_files,
    vector_stores,
)

STATUSES = ("in_progress", "completed", "failed", "cancelled")
DAY = 86_400
UNSET: Any = object()  # "parameter not given" for partial updates

S, F, B = vector_stores.c, vector_store_files.c, vector_store_file_batches.c
CH, A = vector_store_chunks.c, vector_store_file_attributes.c


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(value: str | None) -> Any:
    return orjson.loads(value) if value else None


def _expires_at(expires_after: dict[str, Any] | None, anchor: int) -> int | None:
    return anchor + int(expires_after["days"]) * DAY if expires_after else None


def attribute_rows(vs_id: str, file_id: str, attributes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One typed row per attribute: strings in str_value, numbers and booleans in num_value."""
    rows = []
    for key, value in (attributes or {}).items():
        row: dict[str, Any] = {"vector_store_id": vs_id, "file_id": file_id, "key": key, "str_value": None, "num_value": None}
        if isinstance(value, bool):
            row.update(kind="b", num_value=1.0 if value else 0.0)
        elif isinstance(value, int | float):
            row.update(kind="n", num_value=float(value))
        else:
            row.update(kind="s", str_value=str(value))
        rows.append(row)
    return rows


def _counts(rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """{vs_or_batch_id: {"file_counts": {...}, "usage_bytes": n}} from (id, status, n, bytes) rows."""
    out: dict[str, dict[str, Any]] = {}
    for owner_id, status, n, size in rows:
        entry = out.setdefault(owner_id, {"file_counts": dict.fromkeys((*STATUSES, "total"), 0), "usage_bytes": 0})
        entry["file_counts"][status] = entry["file_counts"].get(status, 0) + n
        entry["file_counts"]["total"] += n
        entry["usage_bytes"] += int(size or 0)
    return out


def _empty_counts() -> dict[str, Any]:
    return {"file_counts": dict.fromkeys((*STATUSES, "total"), 0), "usage_bytes": 0}


def _store_object(row: Any, counts: dict[str, Any], now: int) -> dict[str, Any]:
    fc = counts["file_counts"]
    fc = {k: fc[k] for k in ("in_progress", "completed", "failed", "cancelled", "total")}
    if row.expires_at is not None and row.expires_at <= now:
        status = "expired"
    elif fc["in_progress"]:
        status = "in_progress"
    else:
        status = "completed"
    return {
        "id": row.id,
        "object": "vector_store",
        "created_at": row.created_at,
        "name": row.name if row.name is not None else "",
        "description": row.description,
        "usage_bytes": counts["usage_bytes"],
        "file_counts": fc,
        "status": status,
        "expires_after": _loads(row.expires_after),
        "expires_at": row.expires_at,
        "last_active_at": row.last_active_at,
        "metadata": _loads(row.metadata) or {},
    }


def _file_object(row: Any) -> dict[str, Any]:
    return {
        "id": row.file_id,
        "object": "vector_store.file",
        "usage_bytes": int(row.usage_bytes or 0),
        "created_at": row.created_at,
        "vector_store_id": row.vector_store_id,
        "status": row.status,
        "last_error": _loads(row.last_error),
        "chunking_strategy": _loads(row.chunking_strategy),
        "attributes": _loads(row.attributes) or {},
    }


def _batch_object(row: Any, counts: dict[str, Any]) -> dict[str, Any]:
    fc = counts["file_counts"]
    fc = {k: fc[k] for k in ("in_progress", "completed", "failed", "cancelled", "total")}
    if row.cancelled and not fc["in_progress"]:
        status = "cancelled"
    elif fc["in_progress"]:
        status = "in_progress"
    elif fc["total"] and fc["failed"] == fc["total"]:
        status = "failed"
    else:
        status = "completed"
    return {"id": row.id, "object": "vector_store.files_batch", "created_at": row.created_at, "vector_store_id": row.vector_store_id, "status": status, "file_counts": fc}


_FILE_COLS = (F.vector_store_id, F.file_id, F.created_at, F.status, F.last_error, F.chunking_strategy, F.attributes, F.usage_bytes)


async def _keyset_page(
    conn: AsyncConnection, query: Any, key_cols: tuple[Any, ...], cursor: tuple[Any, ...] | None, *, order: str, limit: int, before: bool
) -> tuple[list[Any], bool]:
    """One page by keyset: `cursor` is the key of the `after` (or `before`) object."""
    ascending = (order == "asc") != before
    if cursor is not None:
        key = sa.tuple_(*key_cols)
        bound = sa.tuple_(*(sa.literal(v, col.type) for v, col in zip(cursor, key_cols, strict=True)))
        query = query.where(key > bound if ascending else key < bound)
    query = query.order_by(*(col.asc() if ascending else col.desc() for col in key_cols)).limit(limit + 1)
    rows = list((await conn.execute(query)).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    if before:
        rows.reverse()
    return rows, has_more


class VectorStoreStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- vector stores -------------------------------------------------------------------

    async def create(self, vs_id: str, *, name: str | None, description: str | None, metadata: dict[str, str], expires_after: dict[str, Any] | None) -> None:
        now_ns = time.time_ns()
        now = now_ns // 1_000_000_000
        async with self.engine.begin() as conn:
            await conn.execute(
                vector_stores.insert().values(
                    id=vs_id,
                    created_at=now,
                    created_ns=now_ns,
                    name=name,
                    description=description,
                    metadata=_dumps(metadata),
                    expires_after=_dumps(expires_after) if expires_after else None,
                    expires_at=_expires_at(expires_after, now),
                    last_active_at=now,
                )
            )

    async def _store_counts(self, conn: AsyncConnection, vs_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not vs_ids:
            return {}
        rows = await conn.execute(
            sa.select(F.vector_store_id, F.status, sa.func.count(), sa.func.sum(F.usage_bytes)).where(F.vector_store_id.in_(vs_ids)).group_by(F.vector_store_id, F.status)
        )
        return _counts(rows.all())

    async def get(self, vs_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(vector_stores).where(S.id == vs_id))).first()
            if row is None:
                return None
            counts = await self._store_counts(conn, [vs_id])
        return _store_object(row, counts.get(vs_id) or _empty_counts(), int(time.time()))

    async def exists(self, vs_ids: list[str]) -> dict[str, dict[str, Any]]:
        """{id: {"expired": bool}} for the stores among `vs_ids` that exist."""
        now = int(time.time())
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(S.id, S.expires_at).where(S.id.in_(vs_ids)))).all()
        return {r.id: {"expired": r.expires_at is not None and r.expires_at <= now} for r in rows}

    async def list_stores(self, *, limit: int, order: str, after: str | None, before: str | None) -> tuple[list[dict[str, Any]], bool] | None:
        cursor_id = after or before
        async with self.engine.connect() as conn:
            cursor = None
            if cursor_id:
                found = (await conn.execute(sa.select(S.created_ns, S.id).where(S.id == cursor_id))).first()
                if found is None:
                    return None
                cursor = (found.created_ns, found.id)
            rows, has_more = await _keyset_page(conn, sa.select(vector_stores), (S.created_ns, S.id), cursor, order=order, limit=limit, before=not after and bool(before))
            counts = await self._store_counts(conn, [r.id for r in rows])
        now = int(time.time())
        return [_store_object(r, counts.get(r.id) or _empty_counts(), now) for r in rows], has_more

    async def update(self, vs_id: str, *, name: Any = UNSET, expires_after: Any = UNSET, metadata: Any = UNSET) -> bool:
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(S.last_active_at).where(S.id == vs_id))).first()
            if row is None:
                return False
            values: dict[str, Any] = {}
            if name is not UNSET:
                values["name"] = name
            if metadata is not UNSET:
                values["metadata"] = _dumps(metadata or {})
            if expires_after is not UNSET:
                values["expires_after"] = _dumps(expires_after) if expires_after else None
                values["expires_at"] = _expires_at(expires_after, row.last_active_at)
            if values:
                await conn.execute(vector_stores.update().where(S.id == vs_id).values(**values))
        return True

    async def touch(self, vs_ids: list[str], *, every: int = 60) -> None:
        """Mark stores active now (searched, files added): moves `last_active_at` and, for a
        store that expires after inactivity, `expires_at`. At most one write a minute."""
        now = int(time.time())
        async with self.engine.begin() as conn:
            rows = (await conn.execute(sa.select(S.id, S.expires_after, S.expires_at).where(S.id.in_(vs_ids) & (S.last_active_at <= now - every)))).all()
            for row in rows:
                if row.expires_at is not None and row.expires_at <= now:
                    continue  # expired stays expired
                await conn.execute(
                    vector_stores.update().where(S.id == row.id).values(last_active_at=now, expires_at=_expires_at(_loads(row.expires_after), now))
                )

    async def delete(self, vs_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(vector_stores.delete().where(S.id == vs_id))
            await conn.execute(vector_store_files.delete().where(F.vector_store_id == vs_id))
            await conn.execute(vector_store_file_batches.delete().where(B.vector_store_id == vs_id))
            await conn.execute(vector_store_file_attributes.delete().where(A.vector_store_id == vs_id))
            await conn.execute(vector_store_chunks.delete().where(CH.vector_store_id == vs_id))
        return bool(result.rowcount)

    # -- files ---------------------------------------------------------------------------

    async def add_files(self, vs_id: str, entries: list[dict[str, Any]], *, batch_id: str | None, owner: str, lease_until: float) -> list[dict[str, Any]]:
        """Attach files (each entry: file_id, filename, chunking_strategy, attributes, token) in
        progress, owned by `owner`. A file already in the store is replaced: re-ingested with
        the new settings."""
        now_ns = time.time_ns()
        now = now_ns // 1_000_000_000
        rows = [
            {
                "vector_store_id": vs_id,
                "file_id": e["file_id"],
                "created_at": now,
                "created_ns": now_ns + i,  # keeps the request's order
                "batch_id": batch_id,
                "filename": e["filename"],
                "status": "in_progress",
                "last_error": None,
                "chunking_strategy": _dumps(e["chunking_strategy"]),
                "attributes": _dumps(e["attributes"]) if e["attributes"] is not None else None,
                "usage_bytes": 0,
                "content": None,
                "ingest_token": e["token"],
                "owner": owner,
                "lease_until": lease_until,
            }
            for i, e in enumerate(entries)
        ]
        ids = [e["file_id"] for e in entries]
        async with self.engine.begin() as conn:
            for table, c in ((vector_store_files, F), (vector_store_file_attributes, A), (vector_store_chunks, CH)):
                await conn.execute(table.delete().where((c.vector_store_id == vs_id) & c.file_id.in_(ids)))
            await conn.execute(vector_store_files.insert(), rows)
            attrs = [r for e in entries for r in attribute_rows(vs_id, e["file_id"], e["attributes"])]
            if attrs:
                await conn.execute(vector_store_file_attributes.insert(), attrs)
        return [_file_object(_Obj(r)) for r in rows]

    async def get_file(self, vs_id: str, file_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(*_FILE_COLS).where((F.vector_store_id == vs_id) & (F.file_id == file_id)))).first()
        return _file_object(row) if row is not None else None

    async def list_files(
        self, vs_id: str, *, limit: int, order: str, after: str | None, before: str | None, status: str | None, batch_id: str | None = None
    ) -> tuple[list[dict[str, Any]], bool] | None:
        where = F.vector_store_id == vs_id
        if batch_id is not None:
            where = where & (F.batch_id == batch_id)
        if status is not None:
            where = where & (F.status == status)
        cursor_id = after or before
        async with self.engine.connect() as conn:
            cursor = None
            if cursor_id:
                found = (await conn.execute(sa.select(F.created_ns, F.file_id).where((F.vector_store_id == vs_id) & (F.file_id == cursor_id)))).first()
                if found is None:
                    return None
                cursor = (found.created_ns, found.file_id)
            rows, has_more = await _keyset_page(
                conn, sa.select(*_FILE_COLS).where(where), (F.created_ns, F.file_id), cursor, order=order, limit=limit, before=not after and bool(before)
            )
        return [_file_object(r) for r in rows], has_more

    async def update_attributes(self, vs_id: str, file_id: str, attributes: dict[str, Any] | None) -> bool:
        key = (A.vector_store_id == vs_id) & (A.file_id == file_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                vector_store_files.update()
                .where((F.vector_store_id == vs_id) & (F.file_id == file_id))
                .values(attributes=_dumps(attributes) if attributes is not None else None)
            )
            if not result.rowcount:
                return False
            await conn.execute(vector_store_file_attributes.delete().where(key))
            rows = attribute_rows(vs_id, file_id, attributes)
            if rows:
                await conn.execute(vector_store_file_attributes.insert(), rows)
        return True

    async def delete_file(self, vs_id: str, file_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(vector_store_files.delete().where((F.vector_store_id == vs_id) & (F.file_id == file_id)))
            await conn.execute(vector_store_file_attributes.delete().where((A.vector_store_id == vs_id) & (A.file_id == file_id)))
            await conn.execute(vector_store_chunks.delete().where((CH.vector_store_id == vs_id) & (CH.file_id == file_id)))
        return bool(result.rowcount)

    async def delete_file_everywhere(self, file_id: str) -> int:
        """Detach a file from every store (the file itself was deleted)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(vector_store_files.delete().where(F.file_id == file_id))
            await conn.execute(vector_store_file_attributes.delete().where(A.file_id == file_id))
            await conn.execute(vector_store_chunks.delete().where(CH.file_id == file_id))
        return int(result.rowcount or 0)

    async def file_content(self, vs_id: str, file_id: str) -> tuple[bool, str | None]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(F.content).where((F.vector_store_id == vs_id) & (F.file_id == file_id)))).first()
        return (False, None) if row is None else (True, row.content)

    # -- batches -------------------------------------------------------------------------

    async def create_batch(self, batch_id: str, vs_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(vector_store_file_batches.insert().values(id=batch_id, vector_store_id=vs_id, created_at=int(time.time()), cancelled=False))

    async def get_batch(self, vs_id: str, batch_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(vector_store_file_batches).where((B.id == batch_id) & (B.vector_store_id == vs_id)))).first()
            if row is None:
                return None
            rows = await conn.execute(
                sa.select(F.batch_id, F.status, sa.func.count(), sa.func.sum(F.usage_bytes))
                .where((F.vector_store_id == vs_id) & (F.batch_id == batch_id))
                .group_by(F.batch_id, F.status)
            )
            counts = _counts(rows.all())
        return _batch_object(row, counts.get(batch_id) or _empty_counts())

    async def cancel_batch(self, vs_id: str, batch_id: str) -> list[str] | None:
        """Mark the batch cancelled and its unfinished files `cancelled`; their ids."""
        async with self.engine.begin() as conn:
            result = await conn.execute(vector_store_file_batches.update().where((B.id == batch_id) & (B.vector_store_id == vs_id)).values(cancelled=True))
            if not result.rowcount:
                return None
            where = (F.vector_store_id == vs_id) & (F.batch_id == batch_id) & (F.status == "in_progress")
            ids = list((await conn.execute(sa.select(F.file_id).where(where))).scalars().all())
            await conn.execute(vector_store_files.update().where(where).values(status="cancelled", ingest_token=None, owner=None, lease_until=None))
        return ids

    # -- ingestion -----------------------------------------------------------------------

    async def claim_orphans(self, owner: str, lease_until: float, new_token: Any, limit: int = 100) -> list[tuple[str, str, str]]:
        """Take files left in progress by a process that stopped renewing its lease (or by
        this process before a restart). Returns (vs_id, file_id, token) to ingest."""
        now = time.time()
        lapsed = (F.status == "in_progress") & (F.lease_until.is_(None) | (F.lease_until < now))
        claimed = []
        async with self.engine.begin() as conn:
            rows = (await conn.execute(sa.select(F.vector_store_id, F.file_id, F.ingest_token).where(lapsed).limit(limit))).all()
            for row in rows:
                token = new_token()
                result = await conn.execute(
                    vector_store_files.update()
                    .where((F.vector_store_id == row.vector_store_id) & (F.file_id == row.file_id) & lapsed)
                    .values(owner=owner, lease_until=lease_until, ingest_token=token)
                )
                if result.rowcount:
                    claimed.append((row.vector_store_id, row.file_id, token))
        return claimed

    async def renew(self, tokens: list[str], lease_until: float) -> None:
        """Extend the leases of the ingestions this process is running (by their tokens): a
        file whose task died is no longer renewed, so a later sweep takes it again."""
        async with self.engine.begin() as conn:
            for start in range(0, len(tokens), 500):
                part = tokens[start : start + 500]
                await conn.execute(vector_store_files.update().where(F.ingest_token.in_(part) & (F.status == "in_progress")).values(lease_until=lease_until))

    async def ingest_source(self, vs_id: str, file_id: str, token: str) -> dict[str, Any] | None:
        """What the ingestion of (vs_id, file_id) needs, if `token` still owns it."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(F.filename, F.chunking_strategy).where(
                        (F.vector_store_id == vs_id) & (F.file_id == file_id) & (F.ingest_token == token) & (F.status == "in_progress")
                    )
                )
            ).first()
        return {"filename": row.filename, "chunking_strategy": _loads(row.chunking_strategy)} if row is not None else None

    async def finish_ingest(self, vs_id: str, file_id: str, token: str, *, content: str, usage_bytes: int, chunks: list[dict[str, Any]]) -> bool:
        """Store the chunks and mark the file completed, in one transaction, if `token` still
        owns the file; False (nothing written) otherwise."""
        mine = (F.vector_store_id == vs_id) & (F.file_id == file_id) & (F.ingest_token == token) & (F.status == "in_progress")
        dims = {len(c["embedding"]) // 4 for c in chunks if c.get("embedding")}
        if dims:
            await vector_index.ensure_tables(self.engine, dims)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                vector_store_files.update().where(mine).values(status="completed", content=content, usage_bytes=usage_bytes, last_error=None, owner=None, lease_until=None)
            )
            if not result.rowcount:
                return False
            await conn.execute(vector_store_chunks.delete().where((CH.vector_store_id == vs_id) & (CH.file_id == file_id)))
            # SQLite keeps each float vector in its chunk row (candidates are re-ranked on it);
            # PostgreSQL keeps it in the pgvector table only
            keep_blob = conn.dialect.name == "sqlite"
            vectors: list[tuple[int, str, bytes]] = []
            insert = vector_store_chunks.insert().returning(CH.id, sort_by_parameter_order=True)
            for start in range(0, len(chunks), 500):
                part = chunks[start : start + 500]
                rows = [{"vector_store_id": vs_id, "file_id": file_id, **c, **({} if keep_blob else {"embedding": None})} for c in part]
                ids = (await conn.execute(insert, rows)).scalars().all()
                vectors += [(cid, c["embedding_model"], c["embedding"]) for cid, c in zip(ids, part, strict=True) if c.get("embedding")]
            if vectors:
                await vector_index.store(conn, vs_id, vectors)
        return True

    async def fail_ingest(self, vs_id: str, file_id: str, token: str, code: str, message: str) -> bool:
        mine = (F.vector_store_id == vs_id) & (F.file_id == file_id) & (F.ingest_token == token) & (F.status == "in_progress")
        async with self.engine.begin() as conn:
            result = await conn.execute(
                vector_store_files.update().where(mine).values(status="failed", last_error=_dumps({"code": code, "message": message}), owner=None, lease_until=None)
            )
        return bool(result.rowcount)


class _Obj:
    """Attribute access over a dict (to render rows built in Python like fetched rows)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)
