"""Background responses: durable rows claimed by workers, with stored, resumable events.

A queued response is a row. The process that creates it runs it at once if it has a free
worker; otherwise any process claims it. Workers hold a lease they renew; when a process dies,
another one ends its started jobs `failed` (saying why) and requeues the ones never started,
so nothing stays in progress forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING

import orjson
from pydantic import BaseModel

from ..providers.base import ModelRequest, ProviderError
from .events import ResponseBuilder, encode, response_error
from .loop import run_model

if TYPE_CHECKING:
    from .service import Prepared, ResponsesService

log = logging.getLogger("onward.background")


class BackgroundRunner:
    def __init__(self, service: ResponsesService) -> None:
        self.service = service
        self.owner = f"w_{uuid.uuid4().hex[:12]}"
        self.tasks: dict[str, asyncio.Task] = {}
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task] = []

    async def enqueue(self, prep: Prepared) -> list[tuple[int, bytes, str]]:
        """Store a queued response with its first events; start it here if there is room."""
        builder = ResponseBuilder(prep.body)
        first = [builder.lifecycle("response.created"), builder.lifecycle("response.queued")]
        frames = [(i, encode(e), e.type) for i, e in enumerate(first)]  # type: ignore[attr-defined]
        local = len(self.tasks) < self.service.settings.workers
        await self.service.store.create(
            prep.body,
            prep.saved(),
            prep.input_items,
            owner=self.owner if local else None,
            lease_until=time.time() + self.service.settings.lease_seconds if local else None,
        )
        await self.service.store.append_events(prep.body["id"], [(seq, data) for seq, data, _ in frames])
        if local:
            self._start(prep.body["id"])
        else:
            self._wake.set()
        return frames

    def _start(self, response_id: str) -> None:
        task = asyncio.create_task(self._execute(response_id))
        self.tasks[response_id] = task

        def _done(_task: asyncio.Task) -> None:
            self.tasks.pop(response_id, None)

        task.add_done_callback(_done)

    async def _execute(self, response_id: str) -> None:
        row = await self.service.store.get_row(response_id)
        if row is None:
            return
        body = orjson.loads(row.body)
        saved = orjson.loads(row.request)
        builder = ResponseBuilder(body, sequence_start=await self.service.store.next_sequence(response_id))
        pending: list[tuple[int, bytes]] = []
        last_flush = time.monotonic()

        def emit(event: BaseModel) -> None:
            data = encode(event)
            seq = event.sequence_number  # type: ignore[attr-defined]
            pending.append((seq, data))
            self.service.hub.publish(response_id, seq, data)

        try:
            if row.cancel_requested:
                raise asyncio.CancelledError
            model = self.service.registry.models.get(saved["model"])
            if model is None:
                raise ProviderError(f"The model '{saved['model']}' is no longer configured on this server.", code="model_not_found")
            request = ModelRequest(**saved["request"])
            builder.set_status("in_progress")
            await self.service.store.save_body(body)
            emit(builder.lifecycle("response.in_progress"))
            async for event in run_model(builder, model.provider, request, self.service._hosted(saved.get("hosted"))):
                emit(event)
                if time.monotonic() - last_flush > 0.1:  # batch writes; also notice remote cancels
                    await self.service.store.append_events(response_id, pending)
                    pending.clear()
                    last_flush = time.monotonic()
                    if await self.service.store.cancel_requested(response_id):
                        raise asyncio.CancelledError
        except asyncio.CancelledError:
            builder.close_all("incomplete")
            builder.set_status("cancelled")
        except ProviderError as exc:
            builder.close_all("incomplete")
            builder.set_status("failed", error=response_error(exc.code, exc.message))
            emit(builder.lifecycle("response.failed"))
        except Exception as exc:  # a bug: still end the response cleanly, and say so in the log
            log.exception("background response %s crashed", response_id)
            builder.close_all("incomplete")
            builder.set_status("failed", error=response_error("server_error", f"Internal error: {type(exc).__name__}"))
            emit(builder.lifecycle("response.failed"))
        finally:
            await asyncio.shield(self._finish_background(response_id, builder, pending))

    async def _finish_background(self, response_id: str, builder: ResponseBuilder, pending: list[tuple[int, bytes]]) -> None:
        await self.service.store.append_events(response_id, pending)
        await self.service.store.finish(builder.body, builder.body["output"])
        conv = builder.body.get("conversation")
        if conv:
            input_items, _ = await self.service.store.list_input_items(response_id, limit=100000, order="asc", after=None)
            await self.service._settle_conversation(conv["id"], builder.body, input_items)
        self.service.hub.close(response_id)

    async def _claim_loop(self) -> None:
        while True:
            try:
                while len(self.tasks) < self.service.settings.workers:
                    response_id = await self.service.store.claim_queued(self.owner, self.service.settings.lease_seconds)
                    if response_id is None:
                        break
                    self._start(response_id)
            except Exception:
                log.exception("claiming queued responses failed")
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    async def _lease_loop(self) -> None:
        """Renew our leases; end or requeue jobs whose worker died (a crash, a kill)."""
        while True:
            await asyncio.sleep(max(0.2, self.service.settings.lease_seconds / 3))
            try:
                await self.service.store.renew_leases(self.owner, list(self.tasks), self.service.settings.lease_seconds)
                await self.recover_orphans()
            except Exception:
                log.exception("lease upkeep failed")

    async def recover_orphans(self) -> None:
        for row in await self.service.store.orphaned():
            if row.owner == self.owner and row.id in self.tasks:
                continue
            if row.status == "queued":
                await self.service.store.release(row.id, row.owner)  # never started: run it again
                self._wake.set()
                continue
            if not await self.service.store.release(row.id, row.owner):
                continue
            body = await self.service.store.get(row.id)
            if body is None:
                continue
            builder = ResponseBuilder(body, sequence_start=await self.service.store.next_sequence(row.id))
            builder.close_all("incomplete")
            for item in body["output"]:
                if item.get("status") == "in_progress":
                    item["status"] = "incomplete"
            message = "The server process running this response stopped before it finished (restart or crash). Retry the request."
            builder.set_status("failed", error={"code": "server_error", "message": message})
            event = builder.lifecycle("response.failed")
            await self.service.store.append_events(row.id, [(event.sequence_number, encode(event))])  # type: ignore[attr-defined]
            await self.service.store.finish(builder.body, [])
            log.warning("response %s was orphaned by worker %s; marked failed", row.id, row.owner)

    async def start(self) -> None:
        await self.recover_orphans()
        self._loops = [asyncio.create_task(self._claim_loop()), asyncio.create_task(self._lease_loop())]

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in list(self.tasks.values()):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=5)
