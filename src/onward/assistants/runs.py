"""Runs: create (on a thread, or with a new thread), read, list, modify, cancel, submit tool
outputs, steps; following a run's events; holding a polled GET until the run settles."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from ..errors import APIError, invalid, not_found
from ..ids import new_id
from .follow import follow
from .hub import Emitter, Held, RunHub
from .objects import DEFAULT_TRUNCATION, run_usage
from .paging import page
from .params import CreateAndRun, RunCreate, SubmitToolOutputs, check_run_tool_choice
from .partial import from_events, mark_incomplete
from .runstore import ACTIVE, TERMINAL, RunStore
from .service import AssistantsService, no_thread
from .worker import Worker

_STAMP = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}
_STEP_END = {"failed": "failed", "cancelled": "cancelled", "expired": "expired", "completed": "cancelled", "incomplete": "cancelled"}


CANCEL_WAIT_SECONDS = 1.0  # a cancel's answer waits this long for `cancelled` (else: `cancelling`)


def expiry_seconds() -> int:
    return int(os.environ.get("ONWARD_RUN_EXPIRY_SECONDS", "600"))


def long_poll_seconds() -> float:
    return float(os.environ.get("ONWARD_RUN_LONG_POLL_SECONDS", "5"))


class RunService:
    def __init__(self, settings: Any, registry: Any, responses: Any, assistants: AssistantsService, runs: RunStore) -> None:
        self.settings = settings
        self.registry = registry
        self.responses = responses
        self.assistants = assistants
        self.conversations = assistants.conversations
        self.runs = runs
        self.hub = RunHub()
        self._changes: dict[str, _Change] = {}
        self.worker = Worker(self)

    async def start(self) -> None:
        await self.worker.start_loops()

    async def stop(self) -> None:
        await self.worker.stop()

    # -- change notification (long polls) ---------------------------------------------
    def changed(self, run_id: str, body: dict[str, Any] | None = None) -> None:
        """The run's stored state changed (to `body`, when the writer has it at hand)."""
        event = self._changes.pop(run_id, None)
        if event is not None:
            event.body = body
            event.set()

    def _watch(self, run_id: str) -> _Change:
        return self._changes.setdefault(run_id, _Change())

    # -- creating ---------------------------------------------------------------------
    async def create(self, thread_id: str, params: RunCreate, include: list[str] | None = None, caller: str = "*") -> dict[str, Any]:
        """Store a queued run and start it. `caller` (ratelimit.caller_of): whose rate-limit
        buckets its model turns are charged to."""
        assistant = await self.assistants.get_assistant(params.assistant_id)
        thread = await self.assistants.get_thread(thread_id)
        run = self._run_object(thread_id, assistant, params)
        if not params.additional_messages:  # the thread is locked in the run's own insert
            return await self._enqueue(run, assistant, thread, include, lock_seconds=expiry_seconds() + 300, caller=caller)
        # held briefly while the messages go in (a crash here must not keep the thread), then
        # taken over by the run's own insert
        locked = await self.conversations.lock(thread_id, run["id"], seconds=max(30.0, 3 * self.settings.lease_seconds))
        if locked is None:
            raise no_thread(thread_id)
        if not locked:
            active = await self.runs.active_run(thread_id)
            raise invalid(f"Thread {thread_id} already has an active run {active or '(a response in progress)'}.", None, None)
        try:
            for i, msg in enumerate(params.additional_messages or []):
                try:
                    await self.assistants.create_message(thread_id, msg, check_lock=False)
                except APIError as exc:
                    exc.param = f"additional_messages[{i}].{exc.param}" if exc.param else f"additional_messages[{i}]"
                    raise
            # their attachments may have given the thread a vector store
            thread["tool_resources"] = await self.assistants.store.get_tool_resources(thread_id)
            return await self._enqueue(run, assistant, thread, include, lock_seconds=expiry_seconds() + 300, caller=caller)
        except BaseException:
            await self.conversations.unlock(thread_id, run["id"])
            raise

    async def create_thread_and_run(self, params: CreateAndRun, caller: str = "*") -> tuple[dict[str, Any], dict[str, Any]]:
        assistant = await self.assistants.get_assistant(params.assistant_id)
        self._check(params, assistant)
        thread = await self.assistants.create_thread(params.thread)
        if params.tool_resources:  # run-level resources override the assistant's for this run
            thread["run_tool_resources"] = await self.assistants.tool_resources(params.tool_resources)
        run = self._run_object(thread["id"], assistant, params)
        created = await self._enqueue(run, assistant, thread, None, thread_event=thread, lock_seconds=expiry_seconds() + 300, caller=caller)
        thread.pop("run_tool_resources", None)
        return thread, created

    def _check(self, params: RunCreate, assistant: dict[str, Any]) -> None:
        """What would fail the run later fails its create instead (400, nothing stored)."""
        if params.model:
            self.assistants.check_model(params.model)
        check_run_tool_choice(params.tool_choice, params.tools if params.tools is not None else assistant.get("tools") or [])

    def _run_object(self, thread_id: str, assistant: dict[str, Any], params: RunCreate) -> dict[str, Any]:
        self._check(params, assistant)
        fields = params.model_fields_set
        instructions = params.instructions if "instructions" in fields and params.instructions is not None else assistant.get("instructions") or ""
        if params.additional_instructions:
            instructions = f"{instructions}\n\n{params.additional_instructions}" if instructions else params.additional_instructions
        now = int(time.time())
        tools = params.tools if params.tools is not None else assistant.get("tools") or []
        return {
            "id": new_id("run"),
            "object": "thread.run",
            "created_at": now,
            "assistant_id": assistant["id"],
            "thread_id": thread_id,
            "status": "queued",
            "started_at": None,
            "expires_at": now + expiry_seconds(),
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": params.model or assistant["model"],
            "instructions": instructions,
            "tools": tools,
            "metadata": params.metadata or {},
            "temperature": params.temperature if params.temperature is not None else assistant.get("temperature", 1.0),
            "top_p": params.top_p if params.top_p is not None else assistant.get("top_p", 1.0),
            "max_completion_tokens": params.max_completion_tokens,
            "max_prompt_tokens": params.max_prompt_tokens,
            "truncation_strategy": params.truncation_strategy.model_dump() if params.truncation_strategy else dict(DEFAULT_TRUNCATION),
            "incomplete_details": None,
            "usage": None,
            "response_format": params.response_format if params.response_format is not None else assistant.get("response_format") or "auto",
            "tool_choice": params.tool_choice if params.tool_choice is not None else "auto",
            "parallel_tool_calls": params.parallel_tool_calls if params.parallel_tool_calls is not None else True,
            "reasoning_effort": params.reasoning_effort or assistant.get("reasoning_effort"),
        }

    async def _enqueue(
        self,
        run: dict[str, Any],
        assistant: dict[str, Any],
        thread: dict[str, Any],
        include: list[str] | None,
        thread_event: dict[str, Any] | None = None,
        lock_seconds: float | None = None,
        caller: str = "*",
    ) -> dict[str, Any]:
        """Store the queued run and start it; with `lock_seconds`, the thread is locked for it in
        the same transaction (else the caller holds the lock already)."""
        vector_stores: list[str] = []
        for resources in (thread.get("run_tool_resources") or assistant.get("tool_resources") or {}, thread.get("tool_resources") or {}):
            vector_stores += (resources.get("file_search") or {}).get("vector_store_ids") or []
        code_files: list[str] = []  # copied into the thread's container when the tool runs
        for resources in (assistant.get("tool_resources") or {}, thread.get("run_tool_resources") or {}, thread.get("tool_resources") or {}):
            code_files += (resources.get("code_interpreter") or {}).get("file_ids") or []
        self.assistants.check_model(run["model"])
        request = {"model": self.registry.get(run["model"]).name, "vector_store_ids": vector_stores, "code_file_ids": list(dict.fromkeys(code_files)), "include": include or [], "used": [0, 0], "pending_calls": [], "rate_caller": caller}
        em = Emitter(self.hub, run["id"], 0)
        if thread_event is not None:
            em.emit("thread.created", thread_event)
        em.emit("thread.run.created", run)
        em.emit("thread.run.queued", run)
        here = self.worker.has_room()  # claimed in the same write when this process runs it
        locked = await self.runs.create(run, request, em.take(), owner=self.worker.owner if here else None, lease_seconds=self.settings.lease_seconds, lock_seconds=lock_seconds)
        if locked is None:
            raise no_thread(run["thread_id"])
        if not locked:
            active = await self.runs.active_run(run["thread_id"])
            raise invalid(f"Thread {run['thread_id']} already has an active run {active or '(a response in progress)'}.", None, None)
        if here:
            self.worker.start(run["id"])
        else:
            self.worker.wake.set()
        return run

    # -- reading ----------------------------------------------------------------------
    async def get(self, thread_id: str, run_id: str) -> dict[str, Any]:
        body = await self.runs.get(run_id)
        if body is None or body["thread_id"] != thread_id:
            raise not_found(f"No run found with id '{run_id}'.", "run_id")
        return body

    async def poll(self, thread_id: str, run_id: str) -> dict[str, Any]:
        """A poll helper's GET: hold it until the run leaves queued/in_progress (or a few
        seconds pass), so a run that finishes quickly costs one or two GETs."""
        body = await self.get(thread_id, run_id)
        deadline = time.monotonic() + long_poll_seconds()
        while body["status"] in ("queued", "in_progress", "cancelling") and time.monotonic() < deadline:
            changed = self._watch(run_id)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(0.5, max(0.01, deadline - time.monotonic())))
            if changed.is_set() and changed.body is not None:  # as just committed: no re-read
                body = changed.body
            else:
                body = await self.get(thread_id, run_id)
        return body

    async def list_runs(self, thread_id: str, **paging: Any) -> dict[str, Any]:
        await self.assistants.get_thread(thread_id)
        return page(*await self.runs.list_runs(thread_id, **paging))

    async def update(self, thread_id: str, run_id: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        for _ in range(5):  # the worker may be writing the run at the same moment
            body = await self.get(thread_id, run_id)
            body["metadata"] = metadata or {}
            if await self.runs.save(body, when=(body["status"],)):
                return body
            await asyncio.sleep(0.05)
        return await self.get(thread_id, run_id)

    async def get_step(self, thread_id: str, run_id: str, step_id: str, include: list[str] | None = None) -> dict[str, Any]:
        await self.get(thread_id, run_id)
        step = await self.runs.get_step(run_id, step_id)
        if step is None:
            raise not_found(f"No run step found with id '{step_id}'.", "step_id")
        return _with_include(step, include)

    async def list_steps(self, thread_id: str, run_id: str, include: list[str] | None = None, **paging: Any) -> dict[str, Any]:
        await self.get(thread_id, run_id)
        steps, more = await self.runs.list_steps(run_id, **paging)
        return page([_with_include(s, include) for s in steps], more)

    # -- ending -----------------------------------------------------------------------
    async def settle(
        self,
        run_id: str,
        status: str,
        *,
        run: dict[str, Any] | None = None,
        req: dict[str, Any] | None = None,
        emitter: Emitter | None = None,
        when: tuple[str, ...] | None = None,
        last_error: dict[str, Any] | None = None,
        incomplete_details: dict[str, Any] | None = None,
        steps: list[dict[str, Any]] | None = None,
        message_fields: list[dict[str, Any]] | None = None,
        partial: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
    ) -> bool:
        """Move a run to `status` (terminal or requires_action), with its events; release the
        worker's hold and, when terminal, the thread. A compare-and-set: only from a status in
        `when` (default: the stored one). Events are sent once written.

        A worker passes its `emitter` (its unsent events are written first; on a lost
        compare-and-set they are handed back), its `steps`, new messages' `message_fields`
        (written even if the run moved on, as when they were written first) and the `partial`
        messages it cut short (items, fields: kept `incomplete`). From outside a worker
        (cancel, expiry, recovery after a crash) the open steps are ended here, and the
        messages the stored events show unfinished are kept `incomplete` (see partial.py).
        One transaction holds all of it and the thread's lock."""
        live = emitter is not None
        fresh = False
        if run is None or req is None:
            row, last = await self.runs.load(run_id)
            if row is None:
                return False
            run, req = orjson.loads(row.body), orjson.loads(row.request)
            if when is None:
                when = (row.status,)
        else:  # metadata may have been modified while the worker held its copy
            fresh = True
            last = -1 if emitter is not None else await self.runs.last_seq(run_id)
        em = emitter or Emitter(self.hub, run_id, last + 1)
        mark = em.seq
        prior = em.take()  # a worker's events, not yet stored nor sent
        em.hub = Held()  # type: ignore[assignment]  # the rest goes out once written
        now = int(time.time())
        steps_to_save = []
        if status in TERMINAL and not live:
            if status == "cancelled":
                em.emit("thread.run.cancelling", {**run, "status": "cancelling"})
            partial = ([], [])
            for message, item in from_events(await self.runs.read_events(run_id, -1)):
                partial[1].append(mark_incomplete(message, item, status))
                partial[0].append(item)
                em.emit("thread.message.incomplete", message)
            for step in await self.runs.run_steps(run_id):
                if step["status"] == "in_progress":
                    end = _STEP_END[status]
                    step["status"] = end
                    step[f"{end}_at"] = now
                    if end == "failed":
                        step["last_error"] = last_error
                    steps_to_save.append(step)
                    em.emit(f"thread.run.step.{end}", step)
        run["status"] = status
        if status in TERMINAL:
            if status in _STAMP:
                run[_STAMP[status]] = now
            run["expires_at"] = None
            run["required_action"] = None
            if last_error:
                run["last_error"] = last_error
            if incomplete_details:
                run["incomplete_details"] = incomplete_details
        if status in TERMINAL or status == "requires_action":
            used = req.get("used") or [0, 0]
            run["usage"] = run_usage(int(used[0]), int(used[1]))
        events: list[tuple[int, str, bytes]] = list(prior)

        def last_events() -> list[tuple[int, str, bytes]]:  # once the stored metadata is in
            em.emit(f"thread.run.{status}", run)
            events.extend(em.take())
            return events

        try:
            saved = await self.runs.save(
                run,
                when=when,
                request=req,
                steps_first=steps or (),
                message_fields=(run["thread_id"], message_fields) if message_fields else None,
                fresh_metadata=fresh,
                more_events=last_events,
                steps_after=steps_to_save,
                thread_items=(run["thread_id"], *partial) if partial and partial[0] else None,
                unlock=run["thread_id"] if status in TERMINAL else None,
                owner=None,
                lease_until=None,
            )
        finally:
            em.hub = self.hub
        if not saved:
            if live:  # hand the worker its events back, numbered as they were
                em.pending, em.seq = prior, mark
            return False
        for seq, name, data in events:
            self.hub.publish(run_id, seq, name, data)
        self.changed(run_id, orjson.loads(events[-1][2]))
        return True

    async def cancel(self, thread_id: str, run_id: str) -> dict[str, Any]:
        """Cancel a run: recorded durably at once, honoured by its worker at its next step.

        queued or requires_action: `cancelled` at once (a compare-and-set: a worker that has
        not started it never will). in_progress: `cancelling` is stored, the worker (here or
        in another process) ends it `cancelled`; the answer waits up to a second for that.
        Whatever the model finished meanwhile, a recorded cancel ends the run `cancelled`.
        Terminal: 400 `Cannot cancel run with status '…'.` (OpenAI's message)."""
        for _ in range(20):  # each turn, the run moved on under us: look again
            body = await self.get(thread_id, run_id)
            status = body["status"]
            if status in TERMINAL:
                raise invalid(f"Cannot cancel run with status '{status}'.", None, None)
            if status in ("queued", "requires_action"):
                if await self.settle(run_id, "cancelled", when=(status,)):
                    return await self.get(thread_id, run_id)
                continue
            if status == "in_progress":
                body["status"] = "cancelling"
                if not await self.runs.save(body, when=("in_progress",), cancel_requested=True):
                    continue
                self.changed(run_id, body)
            self.worker.halt(run_id, "cancelled")
            return await self._until_settled(thread_id, run_id, body, CANCEL_WAIT_SECONDS)
        return await self.get(thread_id, run_id)

    async def _until_settled(self, thread_id: str, run_id: str, body: dict[str, Any], seconds: float) -> dict[str, Any]:
        """The run once terminal, or as it stands after `seconds`."""
        deadline = time.monotonic() + seconds
        while body["status"] not in TERMINAL and time.monotonic() < deadline:
            changed = self._watch(run_id)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(0.2, max(0.01, deadline - time.monotonic())))
            body = await self.get(thread_id, run_id)
        return body

    async def cancel_active(self, thread_id: str) -> None:
        """Before a thread goes away, its active run is cancelled."""
        run_id = await self.runs.active_run(thread_id)
        if run_id:
            with contextlib.suppress(APIError):
                await self.cancel(thread_id, run_id)

    # -- tool outputs ---------------------------------------------------------------------
    async def submit(self, thread_id: str, run_id: str, params: SubmitToolOutputs) -> int:
        """Answer the run's function calls; it queues again. Returns the last event sequence
        number before the submission (a stream carries on after it)."""
        row, last = await self.runs.load(run_id)
        if row is None or row.thread_id != thread_id:
            raise not_found(f"No run found with id '{run_id}'.", "run_id")
        body = orjson.loads(row.body)
        if body["status"] != "requires_action":
            raise invalid(f'Runs in status "{body["status"]}" do not accept tool outputs.', None, None)
        req = orjson.loads(row.request)
        calls = req.get("pending_calls") or []
        expected = [c["call_id"] for c in calls]
        given = {o.tool_call_id: o.output for o in params.tool_outputs}
        unknown = [i for i in given if i not in expected]
        if unknown:
            raise invalid(f"Invalid tool_call_id: {unknown[0]}. This run is waiting for outputs of: {', '.join(expected)}.", "tool_outputs", "invalid_value")
        missing = [i for i in expected if i not in given]
        if missing:
            raise invalid(f"Expected tool outputs for call_ids {expected}, got {list(given)}.", "tool_outputs", "invalid_value")
        em = Emitter(self.hub, run_id, last + 1)
        em.hub = Held()  # type: ignore[assignment]
        now = int(time.time())
        steps = [s for s in await self.runs.run_steps(run_id) if s["type"] == "tool_calls" and s["status"] == "in_progress"]
        for step in steps:
            for call in step["step_details"]["tool_calls"]:
                if call.get("type") == "function" and call["id"] in given:
                    call["function"]["output"] = given[call["id"]]
            step["status"] = "completed"
            step["completed_at"] = now
            em.emit("thread.run.step.completed", step)
        body["status"] = "queued"
        body["required_action"] = None
        em.emit("thread.run.queued", body)
        req["pending_calls"] = []
        events = em.take()
        lease_until = time.time() + self.settings.lease_seconds
        if not await self.runs.save(body, when=("requires_action",), request=req, new_events=events, steps_after=steps, owner=self.worker.owner, lease_until=lease_until):
            raise invalid(f'Runs in status "{(await self.get(thread_id, run_id))["status"]}" do not accept tool outputs.', None, None)
        items = [dict(c, status="completed") for c in calls]
        items += [{"type": "function_call_output", "id": new_id("fco"), "call_id": cid, "output": given[cid], "status": "completed"} for cid in expected]
        await self.conversations.append(thread_id, items)
        for seq, name, data in events:
            self.hub.publish(run_id, seq, name, data)
        self.changed(run_id)
        if self.worker.has_room():
            self.worker.start(run_id)
        else:
            await self.runs.release(run_id, self.worker.owner)
            self.worker.wake.set()
        return last

    # -- outputs into the thread --------------------------------------------------------
    async def append_outputs(self, run: dict[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add a turn's output items to the thread; returns the Assistants fields of its
        messages, which the caller writes with the run's settling."""
        if not items:
            return []
        await self.conversations.append(run["thread_id"], items)
        fields = []
        for item in items:
            if item.get("type") == "message":
                extra = {"incomplete_details": {"reason": "max_tokens"}} if item.get("status") == "incomplete" else {}
                fields.append({"message_id": item["id"], "run_id": run["id"], "assistant_id": run["assistant_id"], "extra": extra})
        return fields

    # -- streaming ----------------------------------------------------------------------
    def follow(self, run_id: str, after: int) -> AsyncIterator[bytes]:
        return follow(self.runs, self.hub, run_id, after)


class _Change(asyncio.Event):
    """Wakes a run's long polls; carries the run as committed when the writer had it."""

    body: dict[str, Any] | None = None


def _with_include(step: dict[str, Any], include: list[str] | None) -> dict[str, Any]:
    if include and "step_details.tool_calls[*].file_search.results[*].content" in include:
        return step
    if step.get("type") == "tool_calls":
        for call in step["step_details"]["tool_calls"]:
            if call.get("type") == "file_search":
                for result in (call.get("file_search") or {}).get("results") or []:
                    result.pop("content", None)
    return step


__all__ = ["RunService", "ACTIVE"]
