"""Background responses: durable rows claimed by workers, with stored, resumable events.

A queued response is a row. The process that creates it runs it at once if it has a free
worker; otherwise any process claims it. Workers hold a lease they renew; when a process dies,
another one ends its started jobs `failed` (saying why) and requeues the ones never started,
so nothing stays in progress forever.

Cancelling is cooperative: the cancel is a durable flag (`cancel_requested`) plus, in the
process running the job, an in-memory event. The worker stops the model at once when either
is seen (the model task is cancelled; it holds no transaction: hosted searches are shielded),
then ends the response `cancelled` in its own, uninterrupted writes. A task is never
cancelled while it writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING

import orjson

from ..providers.base import ModelRequest, ProviderError
from ..store.responses import TERMINAL
from .events import ResponseBuilder, encode, response_error
from .hosted_setup import hosted_tools
from .loop import Hosted, run_model
from .outbox import Outbox
from .replay import partial_output

if TYPE_CHECKING:
    from ..providers.base import Provider
    from .prepared import Prepared
    from .service import ResponsesService

log = logging.getLogger("onward.background")

CANCEL_POLL_SECONDS = 0.25  # how often a running job reads its durable cancel flag
ORPHANED = "The server process running this response stopped before it finished (restart or crash). Retry the request."
STOPPED = "The server stopped before this response finished. Retry the request."


class _Stop(Exception):
    """The job must end now: cancelled by a client, or the server is shutting down."""


class BackgroundRunner:
    def __init__(self, service: ResponsesService) -> None:
        self.service = service
        self.owner = f"w_{uuid.uuid4().hex[:12]}"
        self.tasks: dict[str, asyncio.Task] = {}
        self.stops: dict[str, asyncio.Event] = {}  # set: the job ends at its next step
        self._stopping = False  # the process is shutting down: stopped jobs end `failed`
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task] = []

    async def enqueue(self, prep: Prepared) -> list[tuple[int, bytes, str]]:
        """Store a queued response with its first events; start it here if there is room."""
        builder = ResponseBuilder(prep.body)
        first = [builder.lifecycle("response.created"), builder.lifecycle("response.queued")]
        frames = [(i, encode(e), e.type) for i, e in enumerate(first)]  # type: ignore[attr-defined]
        local = len(self.tasks) < self.service.settings.background_jobs and not self._stopping
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
        stop = asyncio.Event()
        task = asyncio.create_task(self._execute(response_id, stop))
        self.tasks[response_id] = task
        self.stops[response_id] = stop

        def _done(_task: asyncio.Task) -> None:
            self.tasks.pop(response_id, None)
            self.stops.pop(response_id, None)

        task.add_done_callback(_done)

    def stop_job(self, response_id: str) -> asyncio.Task | None:
        """Ask a job running here to end at its next step; its task, to wait on (or None)."""
        stop = self.stops.get(response_id)
        if stop is not None:
            stop.set()
        return self.tasks.get(response_id)

    async def _execute(self, response_id: str, stop: asyncio.Event) -> None:
        store = self.service.store
        row = await store.get_row(response_id)
        if row is None or row.status in TERMINAL:
            self.service.hub.close(response_id)
            return
        body = orjson.loads(row.body)
        saved = orjson.loads(row.request)
        builder = ResponseBuilder(body, sequence_start=await store.next_sequence(response_id))
        out = Outbox(store, self.service.hub, response_id)
        if self._stopping and not row.cancel_requested:  # shutting down before it started: requeue it
            await store.release(response_id, self.owner)
            self.service.hub.close(response_id)
            return
        try:
            if row.cancel_requested or stop.is_set():
                raise _Stop
            model = self.service.registry.models.get(saved["model"])
            if model is None:
                raise ProviderError(f"The model '{saved['model']}' is no longer configured on this server.", code="model_not_found")
            conv = body.get("conversation")
            if conv and not await self.service.conversations.lock(conv["id"], response_id, self.service.settings.lease_seconds):
                # its lock lapsed while it waited in the queue and another response took it
                raise ProviderError(f"Another response is already in progress on conversation {conv['id']}.", code="conversation_locked")
            request = ModelRequest(**saved["request"])
            service = self.service
            hosted = hosted_tools(saved.get("hosted"), vector_stores=service.vector_stores, containers=service.containers, public_url=service.settings.public_url)
            builder.set_status("in_progress")
            started = builder.lifecycle("response.in_progress")
            first = [(started.sequence_number, encode(started))]
            if not await store.save_body(body, first):  # the status and its event in one write
                raise _Stop  # it ended meanwhile (cancelled while queued)
            out.publish(first)
            await self._run(response_id, builder, self.service.paced(model.name, True), request, hosted, out, stop)
        except _Stop:
            out.final.clear()  # a model ending produced in the same instant gives way
            for event in builder.close_all("incomplete"):
                out.add(event)
            if self._stopping:
                builder.set_status("failed", error={"code": "server_error", "message": STOPPED})
                out.add(builder.lifecycle("response.failed"))
            else:
                builder.set_status("cancelled")
        except ProviderError as exc:
            for event in builder.close_all("incomplete"):
                out.add(event)
            builder.set_status("failed", error=response_error(exc.code, exc.message))
            out.add(builder.lifecycle("response.failed"))
        except Exception as exc:  # a bug: still end the response cleanly, and say so in the log
            log.exception("background response %s crashed", response_id)
            for event in builder.close_all("incomplete"):
                out.add(event)
            builder.set_status("failed", error=response_error("server_error", f"Internal error: {type(exc).__name__}"))
            out.add(builder.lifecycle("response.failed"))
        finally:
            await asyncio.shield(self._finish(response_id, builder, out))
            if saved.get("rate"):  # its admission charge settles to the real usage
                caller, charged = saved["rate"]
                await asyncio.shield(self.service.settle_charge(saved["model"], caller, charged, builder.body))

    async def _run(self, response_id: str, builder: ResponseBuilder, provider: Provider, request: ModelRequest, hosted: Hosted | None, out: Outbox, stop: asyncio.Event) -> None:
        """Run the model in its own task while watching for a stop (in-process or durable)."""

        async def produce() -> None:
            async for event in run_model(builder, provider, request, hosted):
                out.add(event)

        producer = asyncio.create_task(produce())
        stopped = asyncio.create_task(stop.wait())
        try:
            while not producer.done() and not stop.is_set():
                await asyncio.wait({producer, stopped}, timeout=CANCEL_POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
                if not producer.done() and not stop.is_set() and await self.service.store.cancel_requested(response_id):
                    stop.set()  # cancelled through another process
            ended = producer.done() and not producer.cancelled() and producer.exception() is None
        finally:
            stopped.cancel()
            if not producer.done():
                producer.cancel()  # in the model or the network: never in a write
            await asyncio.wait({producer})
        if stop.is_set() and not (ended and self._stopping):  # a shutdown keeps a finished answer
            raise _Stop
        producer.result()  # a crash in the model code surfaces here

    async def _finish(self, response_id: str, builder: ResponseBuilder, out: Outbox) -> None:
        body = builder.body
        store = self.service.store
        try:
            await out.drain()
            cancelled = body["status"] == "cancelled"
            # A cancel recorded before this write wins over the model's own ending.
            done = await store.finish(body, body["output"], out.final, unless_cancelled=not cancelled)
            if not done and not cancelled and await store.status(response_id) not in (None, *TERMINAL):
                builder.set_status("cancelled")
                out.final = []
                done = await store.finish(body, body["output"])
            if done:
                out.publish_final()
            conv = body.get("conversation")
            if conv:
                if done:
                    input_items, _ = await store.list_input_items(response_id, limit=100000, order="asc", after=None)
                    await self.service._settle_conversation(conv["id"], body, input_items)
                else:
                    await self.service.conversations.unlock(conv["id"], response_id)
        except Exception:  # the lease lapses and recovery ends it `failed`
            log.exception("finishing background response %s failed", response_id)
        finally:
            self.service.hub.close(response_id)

    async def _claim_loop(self) -> None:
        while not self._stopping:
            try:
                while len(self.tasks) < self.service.settings.background_jobs and not self._stopping:
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
        """Renew our leases (jobs and conversation locks); end or requeue jobs whose worker
        died (a crash, a kill)."""
        lease = self.service.settings.lease_seconds
        while True:
            await asyncio.sleep(max(0.2, lease / 3))
            try:
                await self.service.store.renew_leases(self.owner, list(self.tasks), lease)
                # Conversation locks of the responses running here (background or inline) and
                # of queued ones not claimed yet: held while their holder lives, lapsing
                # `lease` seconds after it dies.
                holders = [*self.tasks, *self.service.inline_holders, *await self.service.store.queued_unclaimed()]
                await self.service.conversations.renew(holders, lease)
                await self.recover_orphans()
            except Exception:
                log.exception("lease upkeep failed")

    async def recover_orphans(self) -> None:
        """End `failed` the started jobs whose worker's lease lapsed (numbering the final event
        after every stored one, and every sent one is stored) and free their conversations;
        requeue the ones never started."""
        store = self.service.store
        for row in await store.orphaned():
            if row.owner == self.owner and row.id in self.tasks:
                continue
            if row.status == "queued":
                await store.release(row.id, row.owner)  # never started: run it again
                self._wake.set()
                continue
            if not await store.release(row.id, row.owner):
                continue
            body = await store.get(row.id)
            if body is None:
                continue
            events = [data for _seq, data in await store.read_events(row.id, -1)]
            body["output"] = partial_output(events)  # what was produced (and sent) is kept
            builder = ResponseBuilder(body, sequence_start=await store.next_sequence(row.id))
            if row.cancel_requested:  # the cancel was recorded: it is honoured
                builder.set_status("cancelled")
                final = []
            else:
                builder.set_status("failed", error={"code": "server_error", "message": ORPHANED})
                event = builder.lifecycle("response.failed")
                final = [(event.sequence_number, encode(event))]
            if await store.finish(builder.body, body["output"], final):
                log.warning("response %s was orphaned by worker %s; marked %s", row.id, row.owner, builder.body["status"])
            if row.conversation_id:
                await self.service.conversations.unlock(row.conversation_id, row.id)

    async def start(self) -> None:
        await self.recover_orphans()
        self._loops = [asyncio.create_task(self._claim_loop()), asyncio.create_task(self._lease_loop())]

    async def stop(self) -> None:
        """Shutting down: running jobs end `failed` at their next step (a restart cannot resume
        them), written in full; tasks still running after 5 s are cancelled."""
        self._stopping = True
        for task in self._loops:
            task.cancel()
        for stop in list(self.stops.values()):
            stop.set()
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=5)
        for task in list(self.tasks.values()):
            task.cancel()
