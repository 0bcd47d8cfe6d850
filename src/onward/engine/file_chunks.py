"""A file's text and chunks for vector store ingestion: parsed from the stored bytes (the blob
itself on local disk, else a temporary copy) in worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from ..retrieval import chunking
from ..retrieval.parsing import ParseError, parse
from ..store.files import BytesUnavailable, unavailable_message


async def read_chunks(files: Any, file_id: str, source: dict[str, Any]) -> tuple[str, list[str]]:
    """The text of the file being ingested and its chunks, cut by the entry's static
    chunking strategy (`source` is the store's `ingest_source` row). Raises ParseError."""
    meta = await files.get(file_id)
    if meta is None:
        raise ParseError("invalid_file", f"The file '{file_id}' was deleted before it could be processed.")
    filename = meta.get("filename") or source["filename"]
    static = source["chunking_strategy"]["static"]
    async with _local_copy(files, file_id, filename) as path:
        text = await asyncio.to_thread(parse, path, filename)
    chunks = await asyncio.to_thread(chunking.chunk_text, text, static["max_chunk_size_tokens"], static["chunk_overlap_tokens"])
    return text, chunks


@contextlib.asynccontextmanager
async def _local_copy(files: Any, file_id: str, filename: str) -> Any:
    """A path to the file's bytes: the blob itself when stored on local disk, else a
    temporary copy."""
    try:
        path = files.path(file_id)
    except NotImplementedError:
        path = None
    except ValueError as exc:
        raise ParseError("invalid_file", f"The file '{file_id}' cannot be read: {exc}") from exc
    if path is not None:
        if not await asyncio.to_thread(Path(path).exists):
            stored = await files.elsewhere(file_id)
            if stored is not None:
                raise ParseError("invalid_file", unavailable_message(file_id, stored, files.blobs.location))
            raise ParseError("invalid_file", f"The bytes of '{file_id}' are missing from storage.")
        yield Path(path)
        return
    try:
        chunks = await files.open(file_id)
    except BytesUnavailable as exc:
        raise ParseError("invalid_file", exc.message) from None
    fd, tmp = tempfile.mkstemp(suffix=Path(filename).suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                await asyncio.to_thread(out.write, chunk)
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
