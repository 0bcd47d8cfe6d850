"""Files: a metadata row per file plus its bytes in blob storage.

The bytes sit behind a tiny `Blobs` interface (put_stream / open / delete). `LocalBlobs` keeps
one file per key in a directory and writes it atomically (a temp file in the same directory,
fsynced, then renamed), so a reader never sees half a file and a failed upload leaves nothing.
`S3Blobs` (blobs_s3.py) keeps them in an S3-compatible bucket instead (ONWARD_S3_BUCKET).

Each file row records in `storage_key` where its bytes went (`Blobs.location`: a local data
directory's identity and host, or an S3 bucket), so a process that cannot see them (several
processes, each with its own local disk) says so instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import files

CHUNK = 1024 * 1024  # bytes handed to a worker thread per write / read
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")


class Blobs(Protocol):
    """Where file bytes live, by key (Onward uses the file id as the key)."""

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
        """Store the bytes `chunks` yields under `key`, all or nothing: if `chunks` raises,
        nothing is kept. Returns (size, sha256 hex)."""
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes in chunks. Raises FileNotFoundError (before any chunk) if absent."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove the bytes; False if there were none."""
        ...

    @property
    def location(self) -> str:
        """Where this storage keeps bytes, as recorded with each file: `local:<id>@<host>` or
        `s3:<bucket>/<prefix>`."""
        ...


class LocalBlobs:
    """One file per key in `root`; blocking disk work runs in worker threads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._location: str | None = None

    @property
    def location(self) -> str:
        """`local:<id>@<host>`: the id lives in the directory itself (created by the first
        process to use it), so processes sharing the directory (same machine, or a shared
        filesystem) share it too; the host name is only there to name it in messages."""
        if self._location is None:
            self._location = f"local:{_directory_id(self.root)}@{socket.gethostname()[:120]}"
        return self._location

    def path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key):
            raise ValueError(f"not a valid storage key: {key!r}")
        return self.root / key

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
        final = self.path(key)
        tmp = self.root / f".{key}.{secrets.token_hex(6)}.part"

        def _open() -> BinaryIO:
            self.root.mkdir(parents=True, exist_ok=True)
            return open(tmp, "xb")  # noqa: SIM115 - closed below

        f = await asyncio.to_thread(_open)
        digest = hashlib.sha256()
        size = 0
        done = False

        def _write(data: bytes) -> None:
            digest.update(data)  # hashlib and file writes release the GIL on big buffers
            f.write(data)

        def _commit() -> None:
            f.flush()
            os.fsync(f.fileno())
            f.close()
            os.replace(tmp, final)
            with contextlib.suppress(OSError):  # make the rename itself durable
                fd = os.open(self.root, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

        try:
            buf = bytearray()
            async for chunk in chunks:
                buf += chunk
                size += len(chunk)
                if len(buf) >= CHUNK:
                    data, buf = bytes(buf), bytearray()
                    await asyncio.to_thread(_write, data)
            if buf:
                await asyncio.to_thread(_write, bytes(buf))
            await asyncio.to_thread(_commit)
            done = True
        finally:
            if not done:  # synchronous on purpose: runs even when the task is being cancelled
                f.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        return size, digest.hexdigest()

    async def open(self, key: str) -> AsyncIterator[bytes]:
        f = await asyncio.to_thread(open, self.path(key), "rb")

        async def _chunks() -> AsyncIterator[bytes]:
            try:
                while data := await asyncio.to_thread(f.read, CHUNK):
                    yield data
            finally:
                f.close()

        return _chunks()

    async def sweep_partials(self, older_than: float = 24 * 3600) -> int:
        """Remove temp files a killed process left mid-upload (only old ones: another process
        sharing the directory may be writing a fresh one)."""

        def _sweep() -> int:
            cutoff, count = time.time() - older_than, 0
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(self.root):
                    if entry.name.startswith(".") and entry.name.endswith(".part"):
                        with contextlib.suppress(FileNotFoundError):
                            if entry.stat().st_mtime < cutoff:
                                os.unlink(entry.path)
                                count += 1
            return count

        return await asyncio.to_thread(_sweep)

    async def delete(self, key: str) -> bool:
        def _unlink() -> bool:
            try:
                os.unlink(self.path(key))
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(_unlink)


def _directory_id(root: Path) -> str:
    """The random id stored in `root/.onward-storage-id`, made on first use (race-free:
    the first writer's link wins, the others read it)."""
    marker = root / ".onward-storage-id"
    with contextlib.suppress(FileNotFoundError):
        return marker.read_text().strip()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".onward-storage-id.{secrets.token_hex(6)}"
    tmp.write_text(secrets.token_hex(8))
    try:
        os.link(tmp, marker)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return marker.read_text().strip()


def unavailable_message(file_id: str, stored: str, here: str) -> str:
    """Why this process cannot read the bytes of `file_id`, stored at location `stored`
    (a `Blobs.location`) while this process stores at `here`, and which setting fixes it."""
    if stored.startswith("s3:"):
        bucket = stored[3:].split("/", 1)[0]
        return (
            f"The bytes of {file_id} are in the S3 bucket '{bucket}', but this process keeps files on its local disk. "
            f"Every process must use the same file storage: set ONWARD_S3_BUCKET={bucket} (and the same ONWARD_S3_* settings) on all of them."
        )
    host = stored.rsplit("@", 1)[1] if stored.startswith("local:") and "@" in stored else "another process"
    where = "its local disk" if here.startswith("s3:") else "the local disk of this process (a different data directory)"
    return (
        f"The bytes of {file_id} are stored on the local disk of {host}, not on {where}. "
        "Several processes need shared file storage: set ONWARD_S3_BUCKET (an S3-compatible bucket) "
        "or put ONWARD_DATA_DIR on a filesystem all of them share."
    )


class BytesUnavailable(FileNotFoundError):
    """The file exists but its bytes are in storage this process cannot read."""

    def __init__(self, file_id: str, stored: str, here: str) -> None:
        self.message = unavailable_message(file_id, stored, here)
        super().__init__(self.message)


def _file_object(row: Mapping[str, Any] | sa.RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "file",
        "bytes": row["bytes"],
        "created_at": row["created_at"],
        "filename": row["filename"],
        "purpose": row["purpose"],
        "status": row["status"],
        "status_details": row["status_details"],
        "expires_at": row["expires_at"],
    }


_COLUMNS = (
    files.c.id,
    files.c.bytes,
    files.c.created_at,
    files.c.filename,
    files.c.purpose,
    files.c.status,
    files.c.status_details,
    files.c.expires_at,
)


def _live(now: int) -> Any:
    return files.c.expires_at.is_(None) | (files.c.expires_at > now)


class FileStore:
    """File metadata in the database, bytes in `blobs` (by default a directory at `root`).

    A file whose `expires_at` has passed is gone for every read (get, list, path lookups by
    the API) even before `purge_expired` removes its row and bytes.
    """

    def __init__(self, engine: AsyncEngine, root: Path, blobs: Blobs | None = None) -> None:
        self.engine = engine
        self.root = Path(root)
        self.blobs: Blobs = blobs if blobs is not None else LocalBlobs(self.root)

    @classmethod
    async def from_env(cls, engine: AsyncEngine, root: Path) -> FileStore:
        """Bytes in the S3-compatible bucket ONWARD_S3_BUCKET names (checked reachable), else
        in the directory `root`."""
        if not os.environ.get("ONWARD_S3_BUCKET"):
            return cls(engine, root)
        from .blobs_s3 import S3Blobs

        return cls(engine, root, await S3Blobs.from_env())

    # -- bytes -------------------------------------------------------------------------------

    def path(self, file_id: str) -> Path:
        """Where the bytes of `file_id` are on local disk (LocalBlobs only). It does not check
        that the file exists: call `get` first. Raises ValueError for an id that cannot be a
        storage key (e.g. one holding '/')."""
        if isinstance(self.blobs, LocalBlobs):
            return self.blobs.path(file_id)
        raise NotImplementedError("this blob storage keeps no local paths; use FileStore.open")

    async def open(self, file_id: str) -> AsyncIterator[bytes]:
        """The bytes of `file_id` in chunks. Raises BytesUnavailable if they are in another
        storage (see `elsewhere`), FileNotFoundError if they are lost."""
        try:
            return await self.blobs.open(file_id)
        except FileNotFoundError:
            stored = await self.elsewhere(file_id)
            if stored is not None:
                raise BytesUnavailable(file_id, stored, self.blobs.location) from None
            raise

    async def elsewhere(self, file_id: str) -> str | None:
        """The location of `file_id`'s bytes if it is not this process's storage (None if it
        is, or there is no such file). Rows from before locations were recorded hold the file
        id: with local storage, their bytes may be on any machine's disk."""
        async with self.engine.connect() as conn:
            stored = (await conn.execute(sa.select(files.c.storage_key).where(files.c.id == file_id))).scalar()
        if stored is None or stored == self.blobs.location:
            return None
        if stored == file_id:  # unrecorded
            return None if not isinstance(self.blobs, LocalBlobs) else "local:?@another machine"
        return str(stored)

    async def put_blob(self, file_id: str, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
        """Store the bytes only (all or nothing); `insert` then makes the file visible."""
        return await self.blobs.put_stream(file_id, chunks)

    async def discard_blob(self, file_id: str) -> None:
        await self.blobs.delete(file_id)

    # -- rows --------------------------------------------------------------------------------

    async def insert(
        self,
        file_id: str,
        *,
        filename: str,
        purpose: str,
        size: int,
        sha256: str | None,
        expires_after: int | None = None,
        status: str = "processed",
    ) -> dict[str, Any]:
        """Record a file whose bytes `put_blob` already stored. `expires_after`: seconds from
        now, or None for no expiry."""
        now_ns = time.time_ns()
        created_at = now_ns // 1_000_000_000
        values = {
            "id": file_id,
            "created_at": created_at,
            "created_ns": now_ns,
            "bytes": size,
            "filename": filename,
            "purpose": purpose,
            "status": status,
            "status_details": None,
            "expires_at": created_at + expires_after if expires_after is not None else None,
            "sha256": sha256,
            "storage_key": self.blobs.location[:255],
        }
        async with self.engine.begin() as conn:
            await conn.execute(files.insert().values(**values))
        return _file_object(values)

    async def create(
        self,
        file_id: str,
        *,
        filename: str,
        purpose: str,
        chunks: AsyncIterable[bytes] | bytes,
        expires_after: int | None = None,
    ) -> dict[str, Any]:
        """Store bytes and row in one call (for files Onward makes itself, e.g. outputs)."""
        if isinstance(chunks, bytes | bytearray):
            chunks = _once(bytes(chunks))
        size, digest = await self.put_blob(file_id, chunks)
        try:
            return await self.insert(file_id, filename=filename, purpose=purpose, size=size, sha256=digest, expires_after=expires_after)
        except BaseException:
            await asyncio.shield(self.discard_blob(file_id))
            raise

    async def get(self, file_id: str) -> dict[str, Any] | None:
        """The OpenAI file object, or None if there is no such (unexpired) file."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(*_COLUMNS).where((files.c.id == file_id) & _live(int(time.time()))))).first()
        return _file_object(row._mapping) if row is not None else None

    async def sha256(self, file_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(files.c.sha256).where(files.c.id == file_id))).scalar()

    async def list(
        self, *, limit: int, order: str, after: str | None = None, purpose: str | None = None
    ) -> tuple[list[dict[str, Any]], bool] | None:
        """A keyset page ordered by creation time (then id). None if `after` names no file."""
        c = files.c
        query = sa.select(*_COLUMNS).where(_live(int(time.time())))
        if purpose is not None:
            query = query.where(c.purpose == purpose)
        async with self.engine.connect() as conn:
            if after:
                cursor = (await conn.execute(sa.select(c.created_ns).where(c.id == after))).first()
                if cursor is None:
                    return None
                key = sa.tuple_(c.created_ns, c.id)
                bound = sa.tuple_(sa.literal(cursor.created_ns, sa.BigInteger), sa.literal(after, sa.String))
                query = query.where(key > bound if order == "asc" else key < bound)
            if order == "asc":
                query = query.order_by(c.created_ns.asc(), c.id.asc())
            else:
                query = query.order_by(c.created_ns.desc(), c.id.desc())
            rows = (await conn.execute(query.limit(limit + 1))).all()
        return [_file_object(r._mapping) for r in rows[:limit]], len(rows) > limit

    async def delete(self, file_id: str) -> bool:
        """Remove the row, then the bytes. False if there was no such file."""
        async with self.engine.begin() as conn:
            result = await conn.execute(files.delete().where(files.c.id == file_id))
        if not result.rowcount:
            return False
        await self.blobs.delete(file_id)
        return True

    async def purge_expired(self, now: int | None = None, batch: int = 100) -> int:
        """Delete up to `batch` files whose expiry has passed (rows and bytes), and stale
        partial uploads. Returns how many files were deleted."""
        now = int(time.time()) if now is None else now
        if isinstance(self.blobs, LocalBlobs):
            await self.blobs.sweep_partials()
        async with self.engine.connect() as conn:
            ids = (
                await conn.execute(sa.select(files.c.id).where(files.c.expires_at <= now).limit(batch))
            ).scalars().all()
        count = 0
        for file_id in ids:
            count += await self.delete(file_id)
        return count


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
