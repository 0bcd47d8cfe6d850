"""The Files service: uploads (streamed straight to blob storage), listing, reading, deleting."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..errors import APIError, invalid, not_found
from ..ids import new_id
from ..store.files import BytesUnavailable, FileStore

log = logging.getLogger("onward.files")

PURPOSES = (
    "assistants",
    "assistants_output",
    "batch",
    "batch_output",
    "fine-tune",
    "fine-tune-results",
    "vision",
    "user_data",
    "evals",
)
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
BATCH_DEFAULT_EXPIRY = 30 * 24 * 3600  # OpenAI: batch files expire after 30 days by default
MIN_EXPIRY, MAX_EXPIRY = 3600, 30 * 24 * 3600
MAX_LIST_LIMIT = 10_000
PURGE_EVERY = 60.0  # seconds between sweeps of expired files


def max_file_bytes() -> int:
    raw = os.environ.get("ONWARD_MAX_FILE_BYTES")
    if not raw:
        return DEFAULT_MAX_FILE_BYTES
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"ONWARD_MAX_FILE_BYTES must be a whole number of bytes, not {raw!r}") from exc
    if value < 1:
        raise ValueError("ONWARD_MAX_FILE_BYTES must be at least 1")
    return value


@dataclass
class UploadPart:
    """One part of an upload form, in the order the client sent it. A field carries `value`;
    the `file` part carries `chunks`, which must be read to the end before the next part."""

    name: str
    value: str | None = None
    filename: str | None = None
    content_type: str | None = None
    chunks: AsyncIterator[bytes] | None = None


def _size_text(n: int) -> str:
    return f"{n} bytes ({n / (1024 * 1024):g} MB)" if n >= 1024 * 1024 else f"{n} bytes"


class FileService:
    def __init__(self, store: FileStore, max_bytes: int | None = None) -> None:
        self.store = store
        self.max_bytes = max_bytes if max_bytes is not None else max_file_bytes()
        self.delete_hooks: list[Callable[[str], Awaitable[None]]] = []  # e.g. vector stores detaching
        self._last_purge = 0.0

    # -- create ------------------------------------------------------------------------------

    async def _limited(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        total = 0
        async for chunk in chunks:
            total += len(chunk)
            if total > self.max_bytes:
                raise APIError(
                    413,
                    f"The file is too large: files can be at most {_size_text(self.max_bytes)}.",
                    param="file",
                    code="file_too_large",
                )
            yield chunk

    async def upload(self, parts: AsyncIterable[UploadPart]) -> dict[str, Any]:
        """Create a file from a streamed form: `file`, `purpose`, optional
        `expires_after[anchor]` and `expires_after[seconds]`. The bytes go to storage as they
        arrive; on any failure nothing is kept."""
        fields: dict[str, str] = {}
        file_id: str | None = None
        filename = ""
        size, digest = 0, ""
        try:
            async for part in parts:
                if part.chunks is not None:
                    if file_id is not None:
                        raise invalid("Only one 'file' can be uploaded per request.", "file")
                    file_id = new_id("file")
                    filename = part.filename or "file"
                    size, digest = await self.store.put_blob(file_id, self._limited(part.chunks))
                    continue
                if part.name in fields:
                    raise invalid(f"'{part.name}' was given more than once.", part.name)
                fields[part.name] = part.value or ""
                self._check_field(part.name, fields[part.name])  # fail fast, before the file
            purpose, expires_after = self._params(fields)
            if file_id is None:
                raise invalid("Missing required parameter: 'file'.", "file", "missing_required_parameter")
            created = await self.store.insert(
                file_id, filename=filename, purpose=purpose, size=size, sha256=digest, expires_after=expires_after
            )
        except BaseException:
            if file_id is not None:
                await self.store.discard_blob(file_id)
            raise
        await self._maybe_purge()
        return created

    def _check_field(self, name: str, value: str) -> None:
        if name == "purpose":
            if value not in PURPOSES:
                allowed = ", ".join(f"'{p}'" for p in PURPOSES)
                raise invalid(f"Invalid value for 'purpose': {value!r}. Supported values are: {allowed}.", "purpose")
        elif name == "expires_after[anchor]":
            if value != "created_at":
                raise invalid(
                    f"Invalid value for 'expires_after.anchor': {value!r}. The only supported anchor is 'created_at'.",
                    "expires_after.anchor",
                )
        elif name == "expires_after[seconds]":
            try:
                seconds = int(value)
            except ValueError:
                raise invalid(
                    f"Invalid type for 'expires_after.seconds': expected an integer, got {value!r}.",
                    "expires_after.seconds",
                    "invalid_type",
                ) from None
            if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
                raise invalid(
                    f"Invalid 'expires_after.seconds': {seconds}. It must be between {MIN_EXPIRY} (1 hour) and {MAX_EXPIRY} (30 days).",
                    "expires_after.seconds",
                )
        elif name != "file":
            raise invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        else:
            raise invalid("'file' must be a file part of the multipart form.", "file")

    def _params(self, fields: dict[str, str]) -> tuple[str, int | None]:
        purpose = fields.get("purpose")
        if not purpose:
            raise invalid("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
        anchor, seconds = fields.get("expires_after[anchor]"), fields.get("expires_after[seconds]")
        if anchor is None and seconds is None:
            return purpose, BATCH_DEFAULT_EXPIRY if purpose == "batch" else None
        if anchor is None:
            raise invalid("Missing required parameter: 'expires_after.anchor'.", "expires_after.anchor", "missing_required_parameter")
        if seconds is None:
            raise invalid("Missing required parameter: 'expires_after.seconds'.", "expires_after.seconds", "missing_required_parameter")
        return purpose, int(seconds)

    async def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = now
        try:
            await self.store.purge_expired()
        except Exception:  # a sweep failing must never fail the request that triggered it
            log.exception("purging expired files failed")

    # -- read / delete -----------------------------------------------------------------------

    async def get(self, file_id: str) -> dict[str, Any]:
        found = await self.store.get(file_id)
        if found is None:
            raise not_found(f"No such File object: {file_id}", "id")
        return found

    async def list(self, *, limit: int | None, order: str | None, after: str | None, purpose: str | None) -> dict[str, Any]:
        limit = MAX_LIST_LIMIT if limit is None else limit
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise invalid(f"Invalid 'limit': {limit}. It must be between 1 and {MAX_LIST_LIMIT}.", "limit")
        order = order or "desc"
        if order not in ("asc", "desc"):
            raise invalid(f"Invalid 'order': {order!r}. Use 'asc' or 'desc'.", "order")
        page = await self.store.list(limit=limit, order=order, after=after or None, purpose=purpose or None)
        if page is None:
            raise invalid(f"Invalid 'after': no file with id '{after}'.", "after")
        data, has_more = page
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }

    async def content(self, file_id: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        """The file object and its bytes, in chunks. 409 `file_bytes_unavailable` when the
        bytes are in storage this process cannot read (several processes, each keeping files
        on its own disk): the message names the setting that fixes it."""
        found = await self.get(file_id)
        try:
            return found, await self.store.open(file_id)
        except BytesUnavailable as exc:
            raise APIError(409, exc.message, param="file_id", code="file_bytes_unavailable") from None
        except FileNotFoundError:
            log.error("file %s has a row but no stored bytes", file_id)
            raise APIError(500, f"The content of file '{file_id}' is missing from storage.", code="file_content_missing") from None

    async def delete(self, file_id: str) -> dict[str, Any]:
        if await self.store.get(file_id) is None or not await self.store.delete(file_id):
            raise not_found(f"No such File object: {file_id}", "id")
        for hook in self.delete_hooks:
            try:
                await hook(file_id)
            except Exception:
                log.exception("a delete hook failed for %s", file_id)
        return {"id": file_id, "object": "file", "deleted": True}
