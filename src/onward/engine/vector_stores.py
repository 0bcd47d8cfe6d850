"""The Vector Stores service: validation, background ingestion, search.

Ingestion runs in this process as asyncio tasks, at most `concurrency` at once; parsing and
chunking run in worker threads. Each file being ingested is leased to this process (renewed
every lease/3 seconds); a file whose lease lapses (its process died) is claimed again by any
live process, so nothing stays `in_progress` across a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ..errors import APIError, invalid, not_found, reject_unknown
from ..ids import new_id
from ..retrieval import chunking, embeddings, index
from ..retrieval.embeddings import Embedder
from ..retrieval.parsing import ParseError
from ..retrieval.search import Searcher, validate_filter
from ..store import vector_index
from ..store.vector_stores import STATUSES, VectorStoreStore
from . import vector_store_params as params
from .conversations import _check_metadata
from .file_chunks import read_chunks

log = logging.getLogger("onward.vector_stores")


class VectorStoreService:
    def __init__(self, store: VectorStoreStore, files: Any, *, embedder: Embedder | None = None, lease_seconds: float = 30.0, concurrency: int = 2) -> None:
        self.store = store
        self.files = files  # a FileStore: get(file_id), path(file_id), open(file_id)
        self.embedder = embedder
        self.searcher = Searcher(store.engine, embedder)
        self.owner = new_id("ingest", 16)
        self.lease = lease_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tokens: dict[tuple[str, str], str] = {}  # the ingestion token each task holds
        self._events: dict[str, asyncio.Event] = {}
        self._loop: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._maintain(), name="vector-store-ingest-leases")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        close = getattr(self.embedder, "aclose", None)
        if close is not None:
            await close()

    async def _maintain(self) -> None:
        """Renew this process's leases; take over files whose ingesting process died."""
        while True:
            try:
                await self.store.renew(list(self._tokens.values()), time.time() + self.lease)
                for vs_id, file_id, token in await self.store.claim_orphans(self.owner, time.time() + self.lease, self._token):
                    log.info("resuming ingestion of %s into %s", file_id, vs_id)
                    self._schedule(vs_id, file_id, token)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("vector store lease upkeep failed")
            await asyncio.sleep(max(0.5, self.lease / 3))

    @staticmethod
    def _token() -> str:
        return new_id("ing", 20)

    # -- waiting for changes (long poll) -------------------------------------------------

    def watch(self, vs_id: str) -> asyncio.Event:
        """An event set when a file of `vs_id` finishes ingesting in this process."""
        return self._events.setdefault(vs_id, asyncio.Event())

    def _notify(self, vs_id: str) -> None:
        event = self._events.pop(vs_id, None)
        if event is not None:
            event.set()

    # -- vector stores -------------------------------------------------------------------

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, {"name", "description", "file_ids", "chunking_strategy", "expires_after", "metadata"})
        name = params.name(body.get("name"))
        description = params.name(body.get("description"), "description")
        metadata = _check_metadata(body.get("metadata"))
        expires_after = params.expires_after(body.get("expires_after"))
        strategy = chunking.resolve_strategy(body.get("chunking_strategy"))
        file_ids = params.file_ids(body["file_ids"], "file_ids", params.MAX_STORE_FILES) if body.get("file_ids") is not None else []
        entries = await self._entries([(fid, strategy, None) for fid in file_ids], "file_ids")
        vs_id = new_id("vs")
        await self.store.create(vs_id, name=name, description=description, metadata=metadata, expires_after=expires_after)
        if entries:
            await self._attach(vs_id, entries, batch_id=None)
        return await self.get(vs_id)

    async def get(self, vs_id: str) -> dict[str, Any]:
        vs = await self.store.get(vs_id)
        if vs is None:
            raise not_found(f"No vector store found with id '{vs_id}'.", "vector_store_id")
        return vs

    async def list_stores(self, *, limit: int, order: str, after: str | None, before: str | None) -> dict[str, Any]:
        result = await self.store.list_stores(limit=limit, order=order, after=after, before=before)
        if result is None:
            cursor = "after" if after else "before"
            raise invalid(f"Invalid '{cursor}': no vector store found with id '{after or before}'.", cursor)
        return params.page(*result)

    async def update(self, vs_id: str, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, {"name", "expires_after", "metadata"})
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = params.name(body["name"])
        if "metadata" in body:
            changes["metadata"] = _check_metadata(body["metadata"])
        if "expires_after" in body:
            changes["expires_after"] = params.expires_after(body["expires_after"])
        if not await self.store.update(vs_id, **changes):
            raise not_found(f"No vector store found with id '{vs_id}'.", "vector_store_id")
        return await self.get(vs_id)

    async def delete(self, vs_id: str) -> dict[str, Any]:
        if not await self.store.delete(vs_id):
            raise not_found(f"No vector store found with id '{vs_id}'.", "vector_store_id")
        for key in [k for k in self._tasks if k[0] == vs_id]:
            self._cancel(key)
        return {"id": vs_id, "object": "vector_store.deleted", "deleted": True}

    async def _usable(self, vs_id: str) -> dict[str, Any]:
        vs = await self.get(vs_id)
        if vs["status"] == "expired":
            raise invalid(f"Vector store '{vs_id}' has expired; create a new one.", "vector_store_id", "vector_store_expired")
        return vs

    # -- files ---------------------------------------------------------------------------

    async def _entries(self, specs: list[tuple[str, dict[str, Any], dict[str, Any] | None]], param: str) -> list[dict[str, Any]]:
        """Look the files up (404 for an unknown id) and give each an ingestion token."""
        entries = []
        for i, (file_id, strategy, attributes) in enumerate(specs):
            meta = await self.files.get(file_id)
            if meta is None:
                where = param if param == "file_id" else f"{param}[{i}]"
                raise not_found(f"No file found with id '{file_id}'.", where)
            entries.append({"file_id": file_id, "filename": meta.get("filename") or file_id, "chunking_strategy": strategy, "attributes": attributes, "token": self._token()})
        return entries

    async def _attach(self, vs_id: str, entries: list[dict[str, Any]], *, batch_id: str | None) -> list[dict[str, Any]]:
        for e in entries:  # a running ingestion of the same file is superseded
            self._cancel((vs_id, e["file_id"]))
        objects = await self.store.add_files(vs_id, entries, batch_id=batch_id, owner=self.owner, lease_until=time.time() + self.lease)
        await self.store.touch([vs_id])
        for e in entries:
            self._schedule(vs_id, e["file_id"], e["token"])
        return objects

    async def create_file(self, vs_id: str, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, {"file_id", "chunking_strategy", "attributes"})
        file_id = body.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise invalid("Missing required parameter: 'file_id'.", "file_id", "missing_required_parameter")
        strategy = chunking.resolve_strategy(body.get("chunking_strategy"))
        attributes = params.attributes(body.get("attributes"))
        await self._usable(vs_id)
        entries = await self._entries([(file_id, strategy, attributes)], "file_id")
        return (await self._attach(vs_id, entries, batch_id=None))[0]

    async def get_file(self, vs_id: str, file_id: str) -> dict[str, Any]:
        await self.get(vs_id)
        obj = await self.store.get_file(vs_id, file_id)
        if obj is None:
            raise not_found(f"No file found with id '{file_id}' in vector store '{vs_id}'.", "file_id")
        return obj

    async def list_files(
        self, vs_id: str, *, limit: int, order: str, after: str | None, before: str | None, status: str | None, batch_id: str | None = None
    ) -> dict[str, Any]:
        if status is not None and status not in STATUSES:
            raise invalid(f"Invalid value for 'filter': {status!r}. Supported values are: {', '.join(STATUSES)}.", "filter")
        await self.get(vs_id)
        if batch_id is not None:
            await self.get_batch(vs_id, batch_id)
        result = await self.store.list_files(vs_id, limit=limit, order=order, after=after, before=before, status=status, batch_id=batch_id)
        if result is None:
            cursor = "after" if after else "before"
            raise invalid(f"Invalid '{cursor}': no file with id '{after or before}' in vector store '{vs_id}'.", cursor)
        return params.page(*result)

    async def update_file(self, vs_id: str, file_id: str, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, {"attributes"})
        if "attributes" not in body:
            raise invalid("Missing required parameter: 'attributes'.", "attributes", "missing_required_parameter")
        attributes = params.attributes(body["attributes"])
        await self.get(vs_id)
        if not await self.store.update_attributes(vs_id, file_id, attributes):
            raise not_found(f"No file found with id '{file_id}' in vector store '{vs_id}'.", "file_id")
        return await self.get_file(vs_id, file_id)

    async def delete_file(self, vs_id: str, file_id: str) -> dict[str, Any]:
        await self.get(vs_id)
        if not await self.store.delete_file(vs_id, file_id):
            raise not_found(f"No file found with id '{file_id}' in vector store '{vs_id}'.", "file_id")
        self._cancel((vs_id, file_id))
        return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}

    async def forget_file(self, file_id: str) -> None:
        """Detach a deleted file from every vector store (a FileService delete hook)."""
        for key in [k for k in self._tasks if k[1] == file_id]:
            self._cancel(key)
        await self.store.delete_file_everywhere(file_id)

    async def file_content(self, vs_id: str, file_id: str) -> dict[str, Any]:
        await self.get(vs_id)
        found, content = await self.store.file_content(vs_id, file_id)
        if not found:
            raise not_found(f"No file found with id '{file_id}' in vector store '{vs_id}'.", "file_id")
        data = [{"type": "text", "text": content}] if content else []
        return {"object": "vector_store.file_content.page", "data": data, "has_more": False, "next_page": None}

    # -- batches -------------------------------------------------------------------------

    async def create_batch(self, vs_id: str, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, {"file_ids", "files", "chunking_strategy", "attributes"})
        if body.get("file_ids") is not None and body.get("files") is not None:
            raise invalid("'file_ids' and 'files' are mutually exclusive: send one of them.", "files")
        specs, param = params.batch_specs(body)
        await self._usable(vs_id)
        entries = await self._entries(specs, param)
        batch_id = new_id("vsfb")
        await self.store.create_batch(batch_id, vs_id)
        await self._attach(vs_id, entries, batch_id=batch_id)
        return await self.get_batch(vs_id, batch_id)

    async def get_batch(self, vs_id: str, batch_id: str) -> dict[str, Any]:
        batch = await self.store.get_batch(vs_id, batch_id)
        if batch is None:
            await self.get(vs_id)
            raise not_found(f"No file batch found with id '{batch_id}' in vector store '{vs_id}'.", "batch_id")
        return batch

    async def cancel_batch(self, vs_id: str, batch_id: str) -> dict[str, Any]:
        file_ids = await self.store.cancel_batch(vs_id, batch_id)
        if file_ids is None:
            return await self.get_batch(vs_id, batch_id)  # raises the 404
        for file_id in file_ids:
            self._cancel((vs_id, file_id))
        self._notify(vs_id)
        return await self.get_batch(vs_id, batch_id)

    # -- search --------------------------------------------------------------------------

    async def search_page(self, vs_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/vector_stores/{id}/search."""
        reject_unknown(body, {"query", "rewrite_query", "max_num_results", "filters", "ranking_options"})
        if "query" not in body:
            raise invalid("Missing required parameter: 'query'.", "query", "missing_required_parameter")
        queries = params.queries(body["query"])
        rewrite = body.get("rewrite_query", False)
        if not isinstance(rewrite, bool):
            raise APIError(400, "Invalid type for 'rewrite_query': expected a boolean.", param="rewrite_query", code="invalid_type")
        limit = params.max_results(body.get("max_num_results"))
        filters = validate_filter(body["filters"]) if body.get("filters") is not None else None
        threshold = params.ranking(body.get("ranking_options"))
        results = await self._search([vs_id], queries, max_num_results=limit, filters=filters, score_threshold=threshold)
        data = [{"file_id": r["file_id"], "filename": r["filename"], "score": r["score"], "attributes": r["attributes"], "content": [{"type": "text", "text": r["text"]}]} for r in results]
        return {"object": "vector_store.search_results.page", "search_query": queries, "data": data, "has_more": False, "next_page": None}

    async def search(
        self, vector_store_ids: list[str], query: str | list[str], *, max_num_results: int = 10, filters: dict[str, Any] | None = None, score_threshold: float | None = None
    ) -> list[dict[str, Any]]:
        """For the file_search tool: the best chunks of the given stores as
        [{file_id, filename, score, attributes, text, vector_store_id}], best first.
        Unknown stores raise 404, an expired store or a bad filter 400."""
        queries = params.queries(query)
        filters = validate_filter(filters) if filters is not None else None
        return await self._search(list(dict.fromkeys(vector_store_ids)), queries, max_num_results=params.max_results(max_num_results), filters=filters, score_threshold=score_threshold)

    async def _search(self, vs_ids: list[str], queries: list[str], *, max_num_results: int, filters: dict[str, Any] | None, score_threshold: float | None) -> list[dict[str, Any]]:
        known = await self.store.exists(vs_ids)
        for vs_id in vs_ids:
            if vs_id not in known:
                raise not_found(f"No vector store found with id '{vs_id}'.", "vector_store_id")
            if known[vs_id]["expired"]:
                raise invalid(f"Vector store '{vs_id}' has expired; create a new one.", "vector_store_id", "vector_store_expired")
        if not vs_ids:
            return []
        await self.store.touch(vs_ids)
        return await self.searcher.search(vs_ids, queries, max_num_results=max_num_results, filters=filters, score_threshold=score_threshold)

    # -- ingestion -----------------------------------------------------------------------

    def _cancel(self, key: tuple[str, str]) -> None:
        task = self._tasks.pop(key, None)
        self._tokens.pop(key, None)
        if task is not None:
            task.cancel()

    def _schedule(self, vs_id: str, file_id: str, token: str) -> None:
        key = (vs_id, file_id)
        self._cancel(key)
        task = asyncio.create_task(self._ingest(vs_id, file_id, token), name=f"ingest {file_id}")
        self._tasks[key] = task
        self._tokens[key] = token

        def _done(t: asyncio.Task[None]) -> None:
            if self._tasks.get(key) is t:
                del self._tasks[key]
                self._tokens.pop(key, None)

        task.add_done_callback(_done)

    async def _ingest(self, vs_id: str, file_id: str, token: str) -> None:
        try:
            await self._ingest_one(vs_id, file_id, token)
        except asyncio.CancelledError:
            raise
        except Exception:  # the lease lapses (no task renews it) and a sweep retries the file
            log.exception("ingesting %s into %s stopped; it will be retried", file_id, vs_id)

    async def _ingest_one(self, vs_id: str, file_id: str, token: str) -> None:
        async with self._slots:
            source = await self.store.ingest_source(vs_id, file_id, token)
            if source is None:
                return  # detached, cancelled or superseded meanwhile
            try:
                text, chunks = await read_chunks(self.files, file_id, source)
                vectors = await self.embedder.embed(chunks) if self.embedder is not None and chunks else None
            except asyncio.CancelledError:
                raise
            except ParseError as exc:
                await self.store.fail_ingest(vs_id, file_id, token, exc.code, exc.message)
                self._notify(vs_id)
                return
            except Exception as exc:
                log.exception("ingesting %s into %s failed", file_id, vs_id)
                await self.store.fail_ingest(vs_id, file_id, token, "server_error", f"Processing the file failed: {type(exc).__name__}: {exc}"[:500])
                self._notify(vs_id)
                return
            usage = len(text.encode("utf-8")) + (int(vectors.nbytes) if vectors is not None else 0)
            rows = index.chunk_rows(chunks, vectors, self.embedder.name if self.embedder is not None else None)
            await self.store.finish_ingest(vs_id, file_id, token, content=text, usage_bytes=usage, chunks=rows)
            self._notify(vs_id)


async def start_service(engine: Any, files: Any, settings: Any) -> VectorStoreService:
    """Build and start the service for the app: `files` is the FileService (its store gives
    the bytes; deleting a file detaches it from every vector store). With embeddings configured,
    the database must hold a vector index (sqlite-vec, pgvector): VectorIndexUnavailable says
    what to install otherwise, before any file is ingested without its vectors."""
    embedder = embeddings.from_env()
    if embedder is not None:
        await vector_index.check(engine)
    service = VectorStoreService(VectorStoreStore(engine), files.store, embedder=embedder, lease_seconds=settings.lease_seconds)
    files.delete_hooks.append(service.forget_file)
    await service.start()
    return service
