"""Rows of containers and container files (the bytes are in the container's directory)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import container_files, containers

Page = tuple[list[dict[str, Any]], bool] | None  # rows and has_more; None: `after` names nothing


def _container(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


class ContainerStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert(self, container_id: str, *, name: str, expires_minutes: int, memory_limit: str, owner: str | None = None) -> dict[str, Any]:
        now_ns = time.time_ns()
        values = {
            "id": container_id,
            "name": name,
            "created_at": now_ns // 1_000_000_000,
            "created_ns": now_ns,
            "last_active_at": now_ns // 1_000_000_000,
            "expires_minutes": expires_minutes,
            "memory_limit": memory_limit,
            "owner": owner,
        }
        async with self.engine.begin() as conn:
            await conn.execute(containers.insert().values(**values))
        return values

    async def get(self, container_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(containers).where(containers.c.id == container_id))).first()
        return _container(row) if row is not None else None

    async def by_owner(self, owner: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(containers).where(containers.c.owner == owner).order_by(containers.c.created_ns.desc()))).first()
        return _container(row) if row is not None else None

    async def touch(self, container_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(containers.update().where(containers.c.id == container_id).values(last_active_at=int(time.time())))

    async def delete(self, container_id: str) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(container_files.delete().where(container_files.c.container_id == container_id))
            result = await conn.execute(containers.delete().where(containers.c.id == container_id))
        return bool(result.rowcount)

    async def _page(self, table: sa.Table, where: Any, *, limit: int, order: str, after: str | None) -> Page:
        c = table.c
        query = sa.select(table).where(where)
        async with self.engine.connect() as conn:
            if after:
                cursor = (await conn.execute(sa.select(c.created_ns).where(where & (c.id == after)))).first()
                if cursor is None:
                    return None
                key = sa.tuple_(c.created_ns, c.id)
                bound = sa.tuple_(sa.literal(cursor.created_ns, sa.BigInteger), sa.literal(after, sa.String))
                query = query.where(key > bound if order == "asc" else key < bound)
            direction = sa.asc if order == "asc" else sa.desc
            rows = (await conn.execute(query.order_by(direction(c.created_ns), direction(c.id)).limit(limit + 1))).all()
        return [dict(r._mapping) for r in rows[:limit]], len(rows) > limit

    async def list(self, *, limit: int, order: str, after: str | None, name: str | None = None) -> Page:
        """A keyset page of containers; None if `after` names none."""
        where: Any = containers.c.owner.is_(None)  # a thread's own container is not listed
        if name:
            where = where & (containers.c.name == name)
        return await self._page(containers, where, limit=limit, order=order, after=after)

    # -- files -------------------------------------------------------------------------
    async def add_file(self, file_id: str, container_id: str, *, path: str, size: int, source: str) -> dict[str, Any]:
        """Record a file (replacing the row of an earlier file at the same path)."""
        now_ns = time.time_ns()
        values = {"id": file_id, "container_id": container_id, "path": path, "bytes": size, "source": source, "created_at": now_ns // 1_000_000_000, "created_ns": now_ns}
        async with self.engine.begin() as conn:
            await conn.execute(container_files.delete().where((container_files.c.container_id == container_id) & (container_files.c.path == path)))
            await conn.execute(container_files.insert().values(**values))
        return values

    async def get_file(self, container_id: str, file_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(container_files).where((container_files.c.id == file_id) & (container_files.c.container_id == container_id)))).first()
        return dict(row._mapping) if row is not None else None

    async def file_paths(self, container_id: str) -> dict[str, dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(container_files).where(container_files.c.container_id == container_id))).all()
        return {r.path: dict(r._mapping) for r in rows}

    async def list_files(self, container_id: str, *, limit: int, order: str, after: str | None) -> Page:
        return await self._page(container_files, container_files.c.container_id == container_id, limit=limit, order=order, after=after)

    async def delete_file(self, container_id: str, file_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(container_files.delete().where((container_files.c.id == file_id) & (container_files.c.container_id == container_id)))
        return bool(result.rowcount)

    async def expired(self, now: int) -> tuple[str, ...]:
        """Ids of containers idle past their expiry (their kernels may be stopped)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(containers.c.id).where(containers.c.last_active_at + containers.c.expires_minutes * 60 < now))).all()
        return tuple(r.id for r in rows)
