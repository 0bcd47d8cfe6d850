"""Executing runs in the background: claim, run one model turn on the Responses engine,
translate its events, settle the run; leases, orphans and expiry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson

from ..engine.context import after_tool_outputs
from ..engine.history import conversation_tail
from ..engine.params import CreateResponse
from ..errors import APIError
from ..ids import new_id
from .hub import Emitter, Held, RunHub
from .objects import engine_text_format, engine_tool_choice, engine_tools
from .runstore import RunStore
from .translate import Translator

log = logging.getLogger("onward.assistants")


def keep_last_messages(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """`truncation_strategy: last_messages`: the items from the n-th last message on."""
    seen = 0
    for i in range(len(items) - 1, -1, -1):
        if items[i].get("type", "message") == "message":
            seen += 1
            if seen == n:
                return items[i:]
    return items


class Incomplete(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class Halt(Exception):
    """The worker stops the run at its next step. outcome: cancelled | expired, or None when
    the run is no longer this worker's (ended elsewhere, or the process is stopping)."""

    def __init__(self, outcome: str | None) -> None:
        self.outcome = outcome


FLUSH_SECONDS = 0.05  # a running turn stores (then sends) its events at most this often
CHECK_SECONDS = 0.25  # and looks this often for a cancel recorded by another process
_END = object()  # the engine's events are over


class Worker:
    def __init__(self, svc: Any) -> None:
        self.svc = svc  # the RunService: stores, engine, settings
        self.store: RunStore = svc.runs
        self.hub: RunHub = svc.hub
        self.owner = f"r_{new_id('w', 12)}"
        self.tasks: dict[str, asyncio.Task] = {}
        self.halts: dict[str, str | None] = {}  # run id -> why its worker must stop (see Halt)
        self.inbox: dict[str, asyncio.Queue[Any]] = {}  # run id -> its running turn's event queue
        self.pumps: set[asyncio.Task] = set()  # engine turns left behind, finishing on their own
        self.stopping = False
        self.wake = asyncio.Event()
        self.loops: list[asyncio.Task] = []

    # -- scheduling -------------------------------------------------------------------
    def has_room(self) -> bool:
        return len(self.tasks) < self.svc.settings.background_jobs

    def start(self, run_id: str) -> None:
        self.hub.running.add(run_id)
        self.hub.backlog[run_id] = []
        task = asyncio.create_task(self._execute(run_id))
        self.tasks[run_id] = task

        def _done(_t: asyncio.Task) -> None:
            self.tasks.pop(run_id, None)
            self.hub.running.discard(run_id)
            self.hub.backlog.pop(run_id, None)
            self.hub.close(run_id)
            self.halts.pop(run_id, None)

        task.add_done_callback(_done)

    def halt(self, run_id: str, outcome: str | None) -> None:
        """Ask the local worker running `run_id` (if any) to stop at its next step; a cancel
        outranks an expiry. Never interrupts it: it may be inside a transaction."""
        if run_id not in self.tasks or self.halts.get(run_id) == "cancelled":
            return
        self.halts[run_id] = outcome
        inbox = self.inbox.get(run_id)
        if inbox is not None:
            inbox.put_nowait(_END)  # wakes the turn's wait for the engine

    def _check(self, run_id: str) -> None:
        if run_id in self.halts:
            raise Halt(self.halts[run_id])

    async def _claim_loop(self) -> None:
        while True:
            try:
                while self.has_room():
                    run_id = await self.store.claim_queued(self.owner, self.svc.settings.lease_seconds)
                    if run_id is None:
                        break
                    self.start(run_id)
            except Exception:
                log.exception("claiming queued runs failed")
            self.wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=1.0)

    async def _upkeep_loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, max(0.2, self.svc.settings.lease_seconds / 3)))
            try:
                await self.store.renew(self.owner, list(self.tasks), self.svc.settings.lease_seconds)
                await self.recover_orphans()
                await self.expire_overdue()
            except Exception:
                log.exception("run upkeep failed")

    async def recover_orphans(self) -> None:
        for row in await self.store.orphaned():
            if row.owner == self.owner and row.id in self.tasks:
                continue
            if row.status == "queued":
                await self.store.release(row.id, row.owner)
                self.wake.set()
            elif row.status == "cancelling":  # the cancel was recorded: it is honoured
                await self.svc.settle(row.id, "cancelled", when=("cancelling",))
                log.warning("run %s was orphaned by worker %s while cancelling; marked cancelled", row.id, row.owner)
            elif row.status == "in_progress":
                message = "The server process running this run stopped before it finished (restart or crash). Create a new run to retry."
                await self.svc.settle(row.id, "failed", last_error={"code": "server_error", "message": message}, when=("in_progress",))
                log.warning("run %s was orphaned by worker %s; marked failed", row.id, row.owner)
            else:
                await self.store.release(row.id, row.owner)

    async def expire_overdue(self) -> None:
        for run_id in await self.store.overdue(self.owner):
            if run_id in self.tasks:
                self.halt(run_id, "expired")
            else:
                await self.svc.settle(run_id, "expired", when=("queued", "requires_action"))

    async def start_loops(self) -> None:
        await self.recover_orphans()
        self.loops = [asyncio.create_task(self._claim_loop()), asyncio.create_task(self._upkeep_loop())]

    async def stop(self) -> None:
        """Shutting down: running turns store what they have and let go (their lease lapses
        and recovery ends them); only a turn still busy after 5 s is interrupted."""
        self.stopping = True
        for task in self.loops:
            task.cancel()
        for run_id in list(self.tasks):
            self.halts.pop(run_id, None)
            self.halt(run_id, None)
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=5)
        for task in [*self.tasks.values(), *self.pumps]:
            task.cancel()

    # -- one execution ------------------------------------------------------------------
    async def _execute(self, run_id: str) -> None:
        """Run a claimed queued run to its next stop. Its events are stored before they are
        sent (a client never saw what a crash lost), and a cancel, an expiry or a shutdown
        is honoured between steps (Halt), never by interrupting a write."""
        row, last = await self.store.load(run_id)
        if row is None or row.status != "queued":
            return
        run = orjson.loads(row.body)
        req = orjson.loads(row.request)
        em = Emitter(self.hub, run_id, last + 1)
        em.hub = Held()  # type: ignore[assignment]  # published by _flush, once stored
        tr = Translator(run, em)
        try:
            run["status"] = "in_progress"
            run["started_at"] = int(time.time())
            em.emit("thread.run.in_progress", run)
            first = em.take()
            if not await self.store.save(run, when=("queued",), new_events=first):
                return  # cancelled or expired meanwhile
            for seq, name, data in first:
                self.hub.publish(run_id, seq, name, data)
            # (no long-poll wake-up: a poll waits through queued and in_progress alike)
            await self._turn(run, req, tr, em)
        except Halt as halt:
            if halt.outcome is None:  # not ours to end (stopping, or ended elsewhere)
                with contextlib.suppress(Exception):
                    await self._flush(run_id, tr, em)
                return
            await self._end(run, req, tr, em, halt.outcome)
        except Incomplete as exc:
            await self._end(run, req, tr, em, "incomplete", incomplete_details={"reason": exc.reason})
        except APIError as exc:
            await self._end(run, req, tr, em, "failed", last_error={"code": "invalid_prompt", "message": exc.message})
        except asyncio.CancelledError:
            raise  # shutdown's last resort: the lease lapses and recovery ends the run
        except Exception as exc:
            log.exception("run %s crashed", run_id)
            await self._end(run, req, tr, em, "failed", last_error={"code": "server_error", "message": f"Internal error: {type(exc).__name__}"})

    async def _flush(self, run_id: str, tr: Translator, em: Emitter) -> None:
        """Store the turn's new events and changed steps, then send the events."""
        events = em.take()
        steps = list({id(s): s for s in tr.dirty}.values())
        await self.store.append_events(run_id, events, steps)
        tr.dirty.clear()
        for seq, name, data in events:
            self.hub.publish(run_id, seq, name, data)

    async def _container(self, run: dict[str, Any], req: dict[str, Any]) -> str | None:
        """The thread's container (made on first use) when the run has code_interpreter, with
        the run's `code_interpreter.file_ids` copied in once."""
        if not any(t.get("type") == "code_interpreter" for t in run["tools"]):
            return None
        containers = self.svc.responses.containers
        row = await containers.for_owner(run["thread_id"], f"thread {run['thread_id']}")
        present = {f["path"] for f in (await containers.store.file_paths(row["id"])).values() if f["source"] == "user"}
        copied = set(req.get("code_files_copied") or [])
        for file_id in req.get("code_file_ids") or []:
            if file_id in copied:
                continue
            found = await containers.files.store.get(file_id)
            if found is None:
                raise APIError(400, f"File '{file_id}' of code_interpreter.file_ids no longer exists.")
            if found["filename"] not in present:
                await containers.attach(row["id"], file_id)
            copied.add(file_id)
        req["code_files_copied"] = sorted(copied)
        return str(row["id"])

    def _params(self, run: dict[str, Any], req: dict[str, Any], history: list[dict[str, Any]], max_output: int | None, container: str | None = None) -> CreateResponse:
        choice = run.get("tool_choice")
        tools = engine_tools(run["tools"])
        if container is not None:
            tools.append({"type": "code_interpreter", "container": container})
        search = next((t for t in run["tools"] if t.get("type") == "file_search"), None)
        if search is not None and req.get("vector_store_ids"):
            fs = search.get("file_search") or {}
            tool: dict[str, Any] = {"type": "file_search", "vector_store_ids": req["vector_store_ids"]}
            if fs.get("max_num_results"):
                tool["max_num_results"] = fs["max_num_results"]
            if fs.get("ranking_options"):
                tool["ranking_options"] = {"ranker": "auto", "score_threshold": float(fs["ranking_options"].get("score_threshold") or 0.0)}
            tools.append(tool)
        text_format = engine_text_format(run.get("response_format"))
        tool_choice = engine_tool_choice(choice)
        if isinstance(choice, dict) and choice.get("type") == "file_search":
            tool_choice = {"type": "file_search"} if any(t["type"] == "file_search" for t in tools) else "auto"
        if req.get("turns"):  # after tool outputs: a forcing choice applied to the run's first turn
            tool_choice = after_tool_outputs(tool_choice)
        body: dict[str, Any] = {
            "model": req["model"],
            "input": history[-1:],
            "instructions": run.get("instructions") or None,
            "tools": tools,
            "tool_choice": tool_choice,
            "parallel_tool_calls": run.get("parallel_tool_calls", True),
            "temperature": run.get("temperature"),
            "top_p": run.get("top_p"),
            "max_output_tokens": max_output,
            "truncation": "auto" if (run.get("truncation_strategy") or {}).get("type", "auto") == "auto" else "disabled",
            "store": True,
            "include": ["file_search_call.results", "code_interpreter_call.outputs"],
        }
        if text_format:
            body["text"] = {"format": text_format}
        if run.get("reasoning_effort") in ("none", "minimal", "low", "medium", "high", "xhigh"):
            body["reasoning"] = {"effort": run["reasoning_effort"]}
        return CreateResponse.model_validate(body)

    async def _turn(self, run: dict[str, Any], req: dict[str, Any], tr: Translator, em: Emitter) -> None:
        svc = self.svc
        used_p, used_c = req.get("used", [0, 0])
        route = svc.registry.models.get(req["model"])
        over = None  # the tail's own count, when it reaches the window (history.Tail.over)
        if route is not None:  # the thread's tail the model's window reaches (engine/history.py)
            tail = await conversation_tail(svc.conversations, route.provider, run["thread_id"])
            history, over = tail.items, tail.over
        else:  # a model gone from the configuration: `prepare` below says so
            history = await svc.conversations.all_items(run["thread_id"])
        trunc = run.get("truncation_strategy") or {}
        if trunc.get("type") == "last_messages" and trunc.get("last_messages"):
            history, over = keep_last_messages(history, int(trunc["last_messages"])), None
        self._check(run["id"])
        max_c = run.get("max_completion_tokens")
        if max_c is not None and used_c >= max_c:
            raise Incomplete("max_completion_tokens")
        if not history:
            raise APIError(400, f"Thread {run['thread_id']} has no messages to run on. Add a message first.")
        await self._wait_for_files(run["id"], req.get("vector_store_ids") or [])
        container = await self._container(run, req)
        prep = await svc.responses.prepare(self._params(run, req, history, max_c - used_c if max_c else None, container), history=history[:-1], over=over, caller=req.get("rate_caller", "*"), wait=True)
        prep.wait_for_limits = True  # an upstream's 429 pauses the route: the run waits, then retries
        req["turns"] = req.get("turns", 0) + 1  # model turns of this run (stored when it settles)
        if prep.hosted and prep.hosted.get("code_interpreter"):
            prep.hosted["export_files"] = True  # files the code makes become /v1/files (file_path, image_file)
        max_p = run.get("max_prompt_tokens")
        if max_p is not None:
            provider = svc.registry.models[prep.model].provider
            remaining = max_p - used_p
            while provider.count_tokens(prep.request) > remaining and len(prep.request.input) > 1 and trunc.get("type", "auto") == "auto":
                kept = prep.request.input[1:]
                while len(kept) > 1 and kept[0].get("type") == "function_call_output":
                    kept = kept[1:]
                prep.request.input = kept
            if provider.count_tokens(prep.request) > remaining:
                raise Incomplete("max_prompt_tokens")
        self._check(run["id"])
        await self._follow_engine(run["id"], svc.responses.run_inline(prep), tr, em)
        if tr.response is None:  # the engine stopped without its final event
            raise RuntimeError("the model turn ended without a final event")
        resp = tr.response
        usage = resp.get("usage") or {}
        turn = (int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0))
        req["used"] = [used_p + turn[0], used_c + turn[1]]
        status = resp.get("status")
        if status == "failed":
            err = resp.get("error") or {}
            code = "rate_limit_exceeded" if err.get("code") == "rate_limit_exceeded" else "server_error"
            await self._end(run, req, tr, em, "failed", last_error={"code": code, "message": err.get("message") or "The model failed."}, usage=turn)
            return
        outputs = [i for i in resp.get("output", []) if i.get("type") != "function_call"]
        tr.message_fields = await svc.append_outputs(run, outputs)
        tr.kept.update(i["id"] for i in outputs if i.get("type") == "message")
        if status == "incomplete":
            await self._end(run, req, tr, em, "incomplete", incomplete_details={"reason": "max_completion_tokens"}, usage=turn)
        elif tr.calls:
            req["pending_calls"] = tr.calls
            await self._end(run, req, tr, em, "requires_action", usage=turn)
        else:
            await self._end(run, req, tr, em, "completed", usage=turn)

    async def _follow_engine(self, run_id: str, events: Any, tr: Translator, em: Emitter) -> None:
        """Translate the engine's events as they come, storing then sending them in batches.

        The engine runs in a task of its own (a pump) feeding a queue, so this loop can stop
        the moment a Halt is due, whatever the engine is doing (loading the prompt, searching
        files): the pump is then told to stop, and closes the engine at its next event."""
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        stop = asyncio.Event()
        self.inbox[run_id] = inbox
        pump = asyncio.create_task(_pump(events, inbox, stop))
        self.pumps.add(pump)
        pump.add_done_callback(self.pumps.discard)
        last_flush = last_check = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                due = last_check + CHECK_SECONDS
                if em.pending:
                    due = min(due, last_flush + FLUSH_SECONDS)
                try:
                    got = inbox.get_nowait() if not inbox.empty() else await asyncio.wait_for(inbox.get(), timeout=max(0.001, due - now))
                except TimeoutError:
                    got = None
                self._check(run_id)
                ended = got is _END
                while got is not None and got is not _END:  # take what else is waiting
                    if isinstance(got, BaseException):
                        raise got
                    tr.feed(got)
                    got = inbox.get_nowait() if not inbox.empty() else None
                    ended = ended or got is _END
                    self._check(run_id)
                now = time.monotonic()
                if em.pending and (ended or now - last_flush >= FLUSH_SECONDS):
                    await self._flush(run_id, tr, em)
                    last_flush = now
                if now - last_check >= CHECK_SECONDS:
                    last_check = now
                    status = await self.store.status(run_id)
                    if status == "cancelling":
                        raise Halt("cancelled")
                    if status != "in_progress":
                        raise Halt(None)
                if ended:
                    self._check(run_id)
                    return
        finally:
            self.inbox.pop(run_id, None)
            stop.set()

    async def _wait_for_files(self, run_id: str, vs_ids: list[str]) -> None:
        """Like OpenAI's, a run searches only once its vector stores finished ingesting."""
        vector_stores = self.svc.assistants.vector_stores
        if vector_stores is None:
            return
        deadline = time.monotonic() + 120
        for vs_id in vs_ids:
            while time.monotonic() < deadline:
                try:
                    vs = await vector_stores.get(vs_id)
                except APIError:
                    break
                if not vs["file_counts"]["in_progress"]:
                    break
                await asyncio.sleep(0.2)
                self._check(run_id)

    async def _end(
        self, run: dict[str, Any], req: dict[str, Any], tr: Translator, em: Emitter, status: str, *, usage: tuple[int, int] | None = None, **fields: Any
    ) -> None:
        """Settle the run; its steps, its messages' fields and the messages it cut short (kept
        `incomplete`) go in the same transaction. The write is a compare-and-set from the
        status this worker holds: when a cancel was recorded first (`cancelling`), the run ends
        `cancelled` instead, whatever the model had finished meanwhile."""
        while True:
            if status == "cancelled":
                em.emit("thread.run.cancelling", {**run, "status": "cancelling"})
            partial, partial_fields = tr.partials(status) if status in ("cancelled", "expired", "failed") else ([], [])
            tr.finish(status, usage, fields.get("last_error"))
            steps = list({id(s): s for s in [*tr.steps, *tr.dirty]}.values())  # (deltas change steps too)
            if status == "requires_action":
                run["required_action"] = {
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {"tool_calls": [{"id": c["call_id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in tr.calls]},
                }
            when = ("cancelling",) if status == "cancelled" else ("in_progress",)
            saved = await self.svc.settle(
                run["id"], status, run=run, req=req, emitter=em, when=when, steps=steps, message_fields=tr.message_fields,
                partial=(partial, partial_fields), **fields,
            )
            tr.dirty.clear()  # written, whether or not the run was
            tr.message_fields = []
            if saved:
                tr.kept.update(item["id"] for item in partial)
                return
            if status == "cancelled" or await self.store.status(run["id"]) != "cancelling":
                return  # ended elsewhere (the lease lapsed and recovery ended it)
            status, usage, fields = "cancelled", None, {}
            run["required_action"] = None


async def _pump(events: Any, inbox: asyncio.Queue[Any], stop: asyncio.Event) -> None:
    """Feed the engine's events (then _END, or the exception it raised) to a turn's queue;
    once `stop` is set, close the engine at its next event (its own cleanup then runs)."""
    try:
        async with contextlib.aclosing(events):
            async for event in events:
                if stop.is_set():
                    break
                inbox.put_nowait(event)
    except Exception as exc:
        inbox.put_nowait(exc)
    finally:
        inbox.put_nowait(_END)
