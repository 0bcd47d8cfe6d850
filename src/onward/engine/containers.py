"""Containers: a row, a directory (its /mnt/data) and, while in use, a sandboxed kernel.

A container expires `expires_after.minutes` after its last activity: its kernel is stopped
(state lost), its files stay readable until it is deleted, and running code in it again
starts a fresh kernel (OpenAI's documented behaviour).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import APIError, invalid, not_found, reject_unknown
from ..ids import new_id
from ..store.containers import ContainerStore
from ..tools.code_interpreter import sandbox, workdir
from ..tools.code_interpreter.kernel import Kernel, Result, SandboxError

log = logging.getLogger("onward.containers")
DEFAULT_MINUTES = 20
MAX_MINUTES = 24 * 60
MEMORY_LIMITS = tuple(sandbox.MEMORY_LIMITS)
MAX_FILE_BYTES = 512 << 20
REAP_EVERY = 30.0


@dataclass
class Run:
    """One call's result: the kernel's `Result` and the container files it wrote or changed
    (images the code displayed first, as `images`)."""

    result: Result
    files: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)


def container_object(row: dict[str, Any], now: int | None = None) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    expired = row["last_active_at"] + row["expires_minutes"] * 60 < now
    return {
        "id": row["id"],
        "object": "container",
        "created_at": row["created_at"],
        "status": "expired" if expired else "running",
        "expires_after": {"anchor": "last_active_at", "minutes": row["expires_minutes"]},
        "last_active_at": row["last_active_at"],
        "memory_limit": row["memory_limit"],
        "name": row["name"],
    }


def file_object(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "container.file",
        "bytes": row["bytes"],
        "container_id": row["container_id"],
        "created_at": row["created_at"],
        "path": f"{workdir.MOUNT}/{row['path']}",
        "source": row["source"],
    }


def _page(page: tuple[list[dict[str, Any]], bool] | None, after: str | None, shape: Any) -> dict[str, Any]:
    if page is None:
        raise invalid(f"Invalid 'after': no object with id '{after}'.", "after")
    rows, has_more = page
    data = [shape(r) for r in rows]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None, "has_more": has_more}


class ContainerService:
    def __init__(self, store: ContainerStore, root: Path, files: Any) -> None:
        self.store = store
        self.root = root
        self.files = files  # FileService: file_ids copied in
        self.kernels: dict[str, Kernel] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.problem: str | None = None  # why the sandbox cannot run here, if it cannot
        self._reaper: asyncio.Task | None = None
        self._checked: asyncio.Task | None = None

    async def start(self) -> None:
        if sandbox.unconfined():
            log.warning("ONWARD_CODE_INTERPRETER_UNCONFINED is set: code interpreter kernels run WITHOUT the bubblewrap sandbox, with the server's own rights.")
        else:  # checked beside start-up, not in its way; a call waits for the answer
            self._checked = asyncio.create_task(self._check())
        self._reaper = asyncio.create_task(self._reap_loop())

    async def _check(self) -> None:
        self.problem = await asyncio.to_thread(sandbox.check)
        if self.problem:
            log.warning("code interpreter unavailable: %s", self.problem)

    async def stop(self) -> None:
        if self._checked:
            self._checked.cancel()
        if self._reaper:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await asyncio.gather(*(k.stop() for k in self.kernels.values()), return_exceptions=True)
        self.kernels.clear()

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(REAP_EVERY)
            try:
                await self.reap()
            except Exception:
                log.exception("stopping expired containers' kernels failed")

    async def reap(self) -> None:
        """Stop the kernels of containers idle past their expiry, or deleted."""
        if not self.kernels:
            return
        expired: set[str] = set(await self.store.expired(int(time.time())))
        for cid in list(self.kernels):
            if cid in expired or await self.store.get(cid) is None:
                await self._stop_kernel(cid)

    async def _stop_kernel(self, cid: str) -> None:
        kernel = self.kernels.pop(cid, None)
        if kernel is not None:
            await kernel.stop()

    def directory(self, cid: str) -> Path:
        return self.root / cid

    # -- containers --------------------------------------------------------------------
    async def create(self, body: dict[str, Any], *, owner: str | None = None) -> dict[str, Any]:
        """Create from `{"name", "expires_after"?, "file_ids"?, "memory_limit"?, "network_policy"?}`."""
        reject_unknown(body, {"name", "expires_after", "file_ids", "memory_limit", "network_policy", "skills"})
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise invalid("Missing required parameter: 'name'.", "name", "missing_required_parameter")
        return container_object(await self.new(name, body, owner=owner))

    async def new(self, name: str, body: dict[str, Any], *, owner: str | None = None, where: str = "") -> dict[str, Any]:
        """Validate the options, make the row and directory, copy `file_ids` in; the row."""
        minutes: Any = DEFAULT_MINUTES
        expires = body.get("expires_after")
        if expires is not None:
            if not isinstance(expires, dict) or expires.get("anchor") != "last_active_at":
                raise invalid(f"'{where}expires_after.anchor' must be 'last_active_at'.", f"{where}expires_after.anchor")
            minutes = expires.get("minutes")
            if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_MINUTES:
                raise invalid(f"'{where}expires_after.minutes' must be an integer between 1 and {MAX_MINUTES}.", f"{where}expires_after.minutes")
        memory = body.get("memory_limit") or "1g"
        if memory not in MEMORY_LIMITS:
            raise invalid(f"Invalid value for '{where}memory_limit': {memory!r}. Supported values are: {', '.join(MEMORY_LIMITS)}.", f"{where}memory_limit")
        policy = body.get("network_policy")
        if policy is not None and (not isinstance(policy, dict) or policy.get("type") != "disabled"):
            raise invalid(f"'{where}network_policy' can only be {{'type': 'disabled'}}: code runs without network access.", f"{where}network_policy", "unsupported_value")
        if body.get("skills"):
            raise invalid("Skills are not supported.", f"{where}skills", "unsupported_value")
        file_ids = body.get("file_ids") or []
        if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
            raise invalid(f"'{where}file_ids' must be an array of file ids.", f"{where}file_ids")
        for i, fid in enumerate(file_ids):  # all exist before anything is made
            if await self.files.store.get(fid) is None:
                raise not_found(f"No such File object: {fid}", f"{where}file_ids[{i}]")
        cid = new_id("cntr")
        self.directory(cid).mkdir(parents=True, exist_ok=True)
        row = await self.store.insert(cid, name=name, expires_minutes=minutes, memory_limit=memory, owner=owner)
        for fid in file_ids:
            await self.attach(cid, fid)
        return row

    async def row(self, cid: str, param: str = "container_id") -> dict[str, Any]:
        row = await self.store.get(cid)
        if row is None:
            raise not_found(f"Container with id '{cid}' not found.", param)
        return row

    async def get(self, cid: str) -> dict[str, Any]:
        return container_object(await self.row(cid))

    async def list(self, *, limit: int, order: str, after: str | None, name: str | None) -> dict[str, Any]:
        return _page(await self.store.list(limit=limit, order=order, after=after, name=name), after, container_object)

    async def delete(self, cid: str) -> dict[str, Any]:
        if not await self.store.delete(cid):
            raise not_found(f"Container with id '{cid}' not found.", "container_id")
        await self._stop_kernel(cid)
        shutil.rmtree(self.directory(cid), ignore_errors=True)
        return {"id": cid, "object": "container.deleted", "deleted": True}

    # -- files -------------------------------------------------------------------------
    async def attach(self, cid: str, file_id: str, param: str = "file_id") -> dict[str, Any]:
        """Copy an uploaded file (`/v1/files`) into the container under its filename."""
        if await self.files.store.get(file_id) is None:
            raise not_found(f"No such File object: {file_id}", param)
        found, chunks = await self.files.content(file_id)
        rel = workdir.relative(_basename(found["filename"]), param)
        size = await workdir.write(self.directory(cid), rel, chunks, cid, MAX_FILE_BYTES)
        return file_object(await self.store.add_file(new_id("cfile"), cid, path=rel, size=size, source="user"))

    async def upload(self, cid: str, filename: str | None, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        await self.row(cid)
        rel = workdir.relative(_basename(filename or "file"), "file")
        size = await workdir.write(self.directory(cid), rel, chunks, cid, MAX_FILE_BYTES)
        await self.store.touch(cid)
        return file_object(await self.store.add_file(new_id("cfile"), cid, path=rel, size=size, source="user"))

    async def get_file(self, cid: str, file_id: str) -> dict[str, Any]:
        await self.row(cid)
        row = await self.store.get_file(cid, file_id)
        if row is None:
            raise not_found(f"Container file with id '{file_id}' not found in container '{cid}'.", "file_id")
        return row

    async def list_files(self, cid: str, *, limit: int, order: str, after: str | None) -> dict[str, Any]:
        await self.row(cid)
        return _page(await self.store.list_files(cid, limit=limit, order=order, after=after), after, file_object)

    async def delete_file(self, cid: str, file_id: str) -> dict[str, Any]:
        row = await self.get_file(cid, file_id)
        await self.store.delete_file(cid, file_id)
        with contextlib.suppress(OSError):
            (self.directory(cid) / row["path"]).unlink()
        return {"id": file_id, "object": "container.file.deleted", "deleted": True}

    async def file_bytes(self, cid: str, file_id: str) -> tuple[dict[str, Any], bytes]:
        """A container file's row and bytes (404 when the code since removed it)."""
        row = await self.get_file(cid, file_id)
        try:
            data = await asyncio.to_thread(lambda: b"".join(workdir.read_chunks(self.directory(cid), row["path"])))
        except OSError:
            raise not_found(f"Container file '{file_id}' is no longer in the container (the code removed or replaced it).", "file_id") from None
        return row, data

    # -- running code ------------------------------------------------------------------
    async def run(self, cid: str, code: str) -> Run:
        """Run `code` in the container's kernel (started, or restarted after expiry, here).
        Raises APIError 503 `sandbox_unavailable` when the sandbox cannot start."""
        row = await self.row(cid)
        if self._checked is not None:
            await asyncio.shield(self._checked)
        if self.problem:
            raise APIError(503, f"The code interpreter sandbox cannot run on this server: {self.problem}. (An operator may set ONWARD_CODE_INTERPRETER_UNCONFINED=1 to run code unconfined.)", code="sandbox_unavailable")
        lock = self.locks.setdefault(cid, asyncio.Lock())
        async with lock:
            if container_object(row)["status"] == "expired":
                await self._stop_kernel(cid)  # a fresh kernel, as OpenAI does after expiry
            limits = sandbox.Limits.from_env(row["memory_limit"])
            kernel = self.kernels.get(cid)
            if kernel is None or not kernel.alive:
                if kernel is not None:
                    await kernel.stop()
                kernel = Kernel(cid, self.directory(cid), limits)
                try:
                    await kernel.start()
                except SandboxError as exc:
                    raise APIError(503, str(exc), code="sandbox_unavailable") from None
                self.kernels[cid] = kernel
            await self.store.touch(cid)
            root = self.directory(cid)
            before = await asyncio.to_thread(workdir.snapshot, root)
            result = await kernel.execute(code, limits.timeout)
            if not kernel.alive:
                self.kernels.pop(cid, None)
            images: list[dict[str, Any]] = []
            for png in result.images:
                fid = new_id("cfile")
                rel = f"{fid}.png"
                size = await workdir.write(root, rel, _once(png), cid, MAX_FILE_BYTES)
                images.append(file_object(await self.store.add_file(fid, cid, path=rel, size=size, source="assistant")))
            after = await asyncio.to_thread(workdir.snapshot, root)
            shown = {i["path"] for i in images}
            files = []
            for rel, meta in sorted(after.items()):
                if before.get(rel) != meta and f"{workdir.MOUNT}/{rel}" not in shown:
                    files.append(file_object(await self.store.add_file(new_id("cfile"), cid, path=rel, size=meta[0], source="assistant")))
            await self.store.touch(cid)
            return Run(result, files, images)

    async def delete_owned(self, owner: str) -> None:
        """Delete the container an owner (a deleted thread) kept, its kernel and files."""
        row = await self.store.by_owner(owner)
        if row is not None:
            with contextlib.suppress(APIError):  # deleted meanwhile
                await self.delete(row["id"])

    async def for_owner(self, owner: str, name: str) -> dict[str, Any]:
        """The container an owner (a thread) keeps, made on first use."""
        row = await self.store.by_owner(owner)
        return row if row is not None else await self.new(name, {}, owner=owner)


def _basename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base if base not in ("", ".", "..") else "file"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
