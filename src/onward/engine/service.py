"""The Responses service: prepare a request (checked and built in `prepared.py`), run it inline
or in the background, persist it, and serve stored responses, their items and their event
streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import BaseModel

from ..config import Settings
from ..errors import APIError, invalid, not_found
from ..ids import new_id
from ..providers.base import ProviderError
from ..providers.registry import Registry, UnknownModel
from ..store.conversations import ConversationStore, DuplicateItem
from ..store.notify import Notifier
from ..store.responses import TERMINAL, ResponseStore
from . import context
from .background import BackgroundRunner
from .compaction import SUMMARY_TOKENS, compact_items, compaction_request
from .events import ResponseBuilder
from .faults import http_error
from .history import Tail, chain_tail, conversation_tail
from .hosted_setup import check_containers, hosted_tools
from .hub import Hub
from .items import check_unique_ids
from .loop import run_model
from .params import CompactRequest, CreateResponse, InputTokensRequest
from .prepared import Prepared, build_prepared, conversation_id
from .ratelimit import MAX_WAIT, Paced, RateLimiter, too_many
from .references import resolve_references

log = logging.getLogger("onward.responses")

CANCEL_WAIT_SECONDS = 5.0  # a cancel waits this long at most for the worker to end the job


class ResponsesService:
    def __init__(self, settings: Settings, store: ResponseStore, registry: Registry, conversations: ConversationStore) -> None:
        self.settings = settings
        self.store = store
        self.conversations = conversations
        self.vector_stores: Any = None  # set by the app: runs file_search
        self.containers: Any = None  # set by the app: runs code_interpreter
        self.registry = registry
        self.limiter = RateLimiter(list(registry.models[n].route for n in registry.models), settings.redis_url, settings.redis_prefix)
        self.hub = Hub()
        self.background = BackgroundRunner(self)
        self.notifier = Notifier(store.engine)
        self._pending: dict[str, asyncio.Task] = {}  # inline responses whose write is in flight
        self.inline_holders: set[str] = set()  # inline responses holding a conversation lock (renewed)

    # -- preparing --------------------------------------------------------------------
    def _model(self, name: str | None):
        try:
            return self.registry.get(name)
        except UnknownModel as exc:
            raise self.registry.not_found(exc) from exc

    def provider(self, name: str | None) -> Any:
        """The provider serving model `name` (404 naming `model` when no route serves it)."""
        return self._model(name).provider

    async def _history(self, previous_response_id: str | None, provider: Any = None) -> Tail:
        """The items of a `previous_response_id` chain: with `provider`, only its tail that the
        model's window can reach (engine/history.py); without, all of them (compaction)."""
        if not previous_response_id:
            return Tail([])
        await self._settled(previous_response_id)
        if provider is not None:
            tail = await chain_tail(self.store, provider, previous_response_id)
        else:
            items = await self.store.chain_items(previous_response_id)
            tail = Tail(items) if items is not None else None
        if tail is None:
            raise APIError(
                400,
                f"Previous response with id '{previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return tail

    async def prepare(
        self, params: CreateResponse, *, history: list[dict[str, Any]] | None = None, over: int | None = None, caller: str | None = None, wait: bool = False
    ) -> Prepared:
        """The response to run for `params`. `history`: the items it continues, when the caller
        read them (`over`: their history.Tail.over). `caller` (from `ratelimit.caller_of`): admit it
        through the route's rpm/tpm limits first: 429 with Retry-After when over them, or,
        with `wait` (Assistants runs), sleep until admitted (at most `ratelimit.MAX_WAIT`)."""
        if params.background and params.store is False:
            raise invalid("Background responses need store=true.", "background")
        if params.conversation is not None and params.previous_response_id:
            raise invalid("Use either 'conversation' or 'previous_response_id', not both.", "previous_response_id")
        model = self._model(params.model)
        new_items = context.normalize_input(params.input)
        if not new_items and not params.previous_response_id:
            raise invalid("Missing required parameter: 'input'.", "input", "missing_required_parameter")
        if any(item.get("type") == "item_reference" for item in new_items):
            await self.settle_writes()
        new_items, referenced = await resolve_references(self.store.engine, new_items)
        response_id = new_id("resp")
        conv_id = conversation_id(params.conversation)
        if conv_id:
            tail = await self._lock_conversation(conv_id, response_id, model.provider)
        else:
            tail = Tail(history, over) if history is not None else await self._history(params.previous_response_id, model.provider)
        past = tail.items
        try:
            # An id the history holds is a 400 before any model work (OpenAI's wording), never
            # an IntegrityError when the items are stored; references to it are exempt. Only
            # the history's tail was read: ids older than it are looked up by index.
            ids = {item.get("id") for item in past}
            if conv_id:
                unseen = [item["id"] for item in new_items if item["id"] not in ids]
                ids |= await self.conversations.held_ids(conv_id, unseen) if unseen else set()
                # A reference to an item the conversation already holds adds nothing to it.
                new_items = [item for k, item in enumerate(new_items) if k not in referenced or item.get("id") not in ids]
            elif params.previous_response_id:  # (a chain not stored, cached by a WebSocket, holds none)
                given = _given_ids(params.input) - ids
                asked = [item["id"] for k, item in enumerate(new_items) if k not in referenced and item["id"] in given]
                ids |= await self.store.chain_holds(params.previous_response_id, asked) if asked else set()
            check_unique_ids([item for k, item in enumerate(new_items) if conv_id or k not in referenced], ids)
            prep = build_prepared(params, model, response_id, conv_id, past, new_items, tail.over)
            await check_containers(self.containers, params.tools)
            if caller is not None and self.limiter.limited(model.name):
                await self._admit(prep, model, caller, params.max_output_tokens, wait)
            return prep
        except BaseException:
            if conv_id:
                await self.conversations.unlock(conv_id, response_id)
            raise

    async def _admit(self, prep: Prepared, model: Any, caller: str, max_output_tokens: int | None, wait: bool) -> None:
        """Charge one request and the estimated input plus the output cap to the route."""
        estimate = model.provider.count_tokens(prep.request) + (max_output_tokens or 0)
        prep.rate_tokens, prep.rate_headers = await self._charge(model, caller, estimate, wait, prep.body["model"])
        prep.rate_caller = caller

    async def _charge(self, model: Any, caller: str, estimate: int, wait: bool, shown_name: str) -> tuple[int, dict[str, str]]:
        """Admit one request of `estimate` tokens on `model`'s route for `caller`: the tokens
        charged (to settle later) and the x-ratelimit-* headers. Over the limit: 429 (or, with
        `wait`, sleep until admitted, at most MAX_WAIT seconds)."""
        lim = self.limiter.limits[model.name]
        tokens = estimate if lim.tpm else 0
        deadline = time.monotonic() + MAX_WAIT
        while not (verdict := await self.limiter.admit(model.name, caller, tokens)).ok:
            if not wait or time.monotonic() + verdict.wait > deadline:
                raise too_many(shown_name, verdict, lim, tokens)
            await asyncio.sleep(verdict.wait + 0.01)
        return (min(tokens, lim.tpm) if lim.tpm else 0), verdict.headers

    async def settle_rate(self, prep: Prepared, body: dict[str, Any] | None) -> None:
        """Settle an admitted response's token charge to its real usage (none: nothing ran)."""
        if prep.rate_caller is not None:
            await self.settle_charge(prep.model, prep.rate_caller, prep.rate_tokens, body)
            prep.rate_caller = None

    async def settle_charge(self, model: str, caller: str, charged: int, body: dict[str, Any] | None) -> None:
        """Give back (or charge) the difference between `charged` tokens and `body`'s usage."""
        usage = (body or {}).get("usage") or {}
        used = int(usage.get("total_tokens") or 0)
        try:
            await self.limiter.settle(model, caller, used - charged)
        except Exception:  # the reply matters more than the bookkeeping
            log.warning("settling the rate limit of %s failed", model, exc_info=True)

    def paced(self, model_name: str, wait: bool) -> Any:
        """The route's provider behind its upstream pause (ratelimit.Paced)."""
        return Paced(self.registry.models[model_name].provider, self.limiter, model_name, wait)

    async def _lock_conversation(self, conv_id: str, holder: str, provider: Any) -> Tail:
        """Lock the conversation for `holder`; the tail of its history `provider`'s window reaches."""
        locked = await self.conversations.lock(conv_id, holder, self.settings.lease_seconds)
        if locked is None:
            raise not_found(f"Conversation with id '{conv_id}' not found.", "conversation")
        if not locked:
            raise APIError(
                400,
                f"Another response is already in progress on conversation {conv_id}. Wait for it to finish, then retry.",
                param="conversation",
                code="conversation_locked",
            )
        return await conversation_tail(self.conversations, provider, conv_id)

    # -- inline runs ------------------------------------------------------------------
    async def run_inline(self, prep: Prepared, *, quiet: bool = False, http_errors: bool = False) -> AsyncIterator[BaseModel]:
        """Run now, yielding events; persist before the terminal event goes out. `quiet`:
        nobody reads the deltas (a plain JSON reply), so they are not built. `http_errors`: a
        model failure before any output raises the APIError of `faults.http_error` instead of
        yielding `response.failed`; that response is not stored (as on OpenAI, an HTTP error
        creates nothing), and its conversation gets nothing and is unlocked."""
        builder = ResponseBuilder(prep.body, quiet=quiet)
        provider = self.paced(prep.model, prep.wait_for_limits)
        holder = prep.body["id"]
        if prep.conversation_id:  # the lease loop renews the lock while this runs
            self.inline_holders.add(holder)
        finished = False
        try:
            yield builder.lifecycle("response.created")
            yield builder.lifecycle("response.in_progress")
            # (public_url reads the environment: only for responses with hosted tools)
            hosted = hosted_tools(prep.hosted, vector_stores=self.vector_stores, containers=self.containers, public_url=self.settings.public_url) if prep.hosted else None
            async for event in run_model(builder, provider, prep.request, hosted):
                if event.type in ("response.completed", "response.failed", "response.incomplete"):  # type: ignore[attr-defined]
                    finished = True
                    if http_errors and isinstance(builder.fault, ProviderError) and not _model_output(builder.body["output"]):
                        if prep.conversation_id:
                            await self.conversations.unlock(prep.conversation_id, prep.body["id"])
                        log.info("response %s: model failed before any output: HTTP %s [%s]", prep.body["id"], builder.fault.status, builder.fault.code)
                        raise http_error(builder.fault)
                    await asyncio.shield(self._persist_new(prep, builder.body))  # never cut mid-write
                yield event
        finally:
            try:
                if not finished:  # the client went away mid-stream (or the model code crashed)
                    builder.close_all("incomplete")
                    builder.set_status("cancelled")
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self._persist_new(prep, builder.body))
            finally:
                self.inline_holders.discard(holder)
                await asyncio.shield(self.settle_rate(prep, builder.body if finished else None))

    async def _persist_new(self, prep: Prepared, body: dict[str, Any]) -> None:
        if prep.conversation_id:  # the lock must be free before the client hears "done"
            if prep.store:
                await self._save(prep, body)
            await self._settle_conversation(prep.conversation_id, body, prep.input_items)
        elif prep.store and self.store.sqlite:
            # One process owns a SQLite database, so the write can land just after the reply:
            # every read of this id in this process waits for it (see `_settled`).
            task = asyncio.create_task(self._save(prep, body))
            self._pending[body["id"]] = task
            task.add_done_callback(lambda _t: self._pending.pop(body["id"], None))
        elif prep.store:
            await self._save(prep, body)

    async def _save(self, prep: Prepared, body: dict[str, Any]) -> None:
        # A finished response never runs again: its row keeps the model name, not the model
        # request (a context window of history per response, which only queued jobs read).
        await self.store.save_new(body, {"model": prep.model}, prep.input_items, body["output"])

    async def settle_writes(self) -> None:
        """Wait for every inline response whose write is still in flight (SQLite), so that
        lookups by item id see them."""
        if self._pending:
            await asyncio.gather(*(asyncio.shield(t) for t in list(self._pending.values())), return_exceptions=True)

    async def _settled(self, response_id: str | None) -> None:
        task = self._pending.get(response_id) if response_id else None
        if task is not None:
            await asyncio.shield(task)

    async def _settle_conversation(self, conv_id: str, body: dict[str, Any], input_items: list[dict[str, Any]]) -> None:
        """A finished response's input and output join its conversation; the lock is released."""
        try:
            if body["status"] in ("completed", "incomplete"):
                items = input_items + body["output"]
                try:
                    await self.conversations.append(conv_id, items)
                except DuplicateItem:  # a client added an item with one of these ids meanwhile: theirs stays
                    held = await self.conversations.held_ids(conv_id, [item["id"] for item in items])
                    await self.conversations.append(conv_id, [item for item in items if item["id"] not in held])
        finally:
            await self.conversations.unlock(conv_id, body["id"])

    async def create(self, prep: Prepared) -> dict[str, Any]:
        """Non-streaming create: the final object (or, for background, the queued one)."""
        if prep.background:
            await self.enqueue(prep)
            return prep.body
        final: dict[str, Any] | None = None
        async for event in self.run_inline(prep, quiet=True, http_errors=True):
            if event.type in ("response.completed", "response.failed", "response.incomplete"):  # type: ignore[attr-defined]
                final = event.response  # type: ignore[attr-defined]
        assert final is not None
        return final

    # -- background runs (engine/background.py) -------------------------------------------
    async def enqueue(self, prep: Prepared) -> list[tuple[int, bytes, str]]:
        return await self.background.enqueue(prep)

    async def start(self) -> None:
        await self.notifier.start()
        await self.background.start()

    async def stop(self) -> None:
        if self._pending:
            await asyncio.wait(list(self._pending.values()), timeout=10)
        await self.background.stop()
        await self.notifier.stop()
        await self.limiter.aclose()

    # -- reading ----------------------------------------------------------------------
    async def get(self, response_id: str) -> dict[str, Any]:
        await self._settled(response_id)
        body = await self.store.get(response_id)
        if body is None:
            raise not_found(f"Response with id '{response_id}' not found.", "response_id")
        return body

    async def delete(self, response_id: str) -> dict[str, Any]:
        await self._settled(response_id)
        task = self.background.stop_job(response_id)
        if task is not None:  # let it end in its own writes before its rows go
            await asyncio.wait({task}, timeout=CANCEL_WAIT_SECONDS)
        if not await self.store.delete(response_id):
            raise not_found(f"Response with id '{response_id}' not found.", "response_id")
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    async def cancel(self, response_id: str) -> dict[str, Any]:
        """Cancel a background response: the returned object is `cancelled` (final), unless it
        had already ended (400, as OpenAI: "Cannot cancel a completed response.").

        The cancel is first recorded durably (one UPDATE … WHERE not ended); a queued job no
        worker holds is then ended here (compare-and-set against a claim); a running one ends at
        its worker's next step, in this process or another, and this call waits for that."""
        await self._settled(response_id)
        row = await self.store.get_row(response_id)
        if row is None:
            raise not_found(f"Response with id '{response_id}' not found.", "response_id")
        if not row.background:
            raise invalid("Only responses created with background=true can be cancelled.", "response_id")
        if row.status not in TERMINAL and await self.store.request_cancel(response_id):
            task = self.background.stop_job(response_id)
            body = orjson.loads(row.body)
            if row.status == "queued" and row.owner is None:
                body["status"] = "cancelled"
                if await self.store.cancel_queued(body):
                    if body.get("conversation"):
                        await self.conversations.unlock(body["conversation"]["id"], response_id)
                    self.hub.close(response_id)
                    return body
            if task is not None:
                await asyncio.wait({task}, timeout=CANCEL_WAIT_SECONDS)
            else:  # another process runs it: it reads the flag within CANCEL_POLL_SECONDS
                deadline = time.monotonic() + CANCEL_WAIT_SECONDS
                while time.monotonic() < deadline and (await self.store.status(response_id)) not in (None, *TERMINAL):
                    await self.notifier.wait(response_id, 0.05)
        body = await self.get(response_id)
        if body["status"] in TERMINAL and body["status"] != "cancelled":
            raise invalid(f"Cannot cancel a {body['status']} response.", "response_id")
        return body

    async def input_items(self, response_id: str, *, limit: int, order: str, after: str | None, before: str | None) -> dict[str, Any]:
        await self._settled(response_id)
        if await self.store.status(response_id) is None:
            raise not_found(f"Response with id '{response_id}' not found.", "response_id")
        items, has_more = await self.store.list_input_items(response_id, limit=limit, order=order, after=after, before=before)
        return {
            "object": "list",
            "data": items,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
            "has_more": has_more,
        }

    async def stream_stored(self, response_id: str, after: int) -> AsyncIterator[tuple[str, bytes]]:
        """Replay a background response's events after `after`, then follow it live."""
        row = await self.store.get_row(response_id)
        if row is None:
            raise not_found(f"Response with id '{response_id}' not found.", "response_id")
        if not row.background:
            raise invalid("Only background responses can be streamed again; this one was not created with background=true.", "stream")
        queue = self.hub.subscribe(response_id)
        try:
            last = after
            while True:
                status = await self.store.status(response_id)
                done = status is None or status in TERMINAL
                for seq, data in await self.store.read_events(response_id, last):
                    last = seq
                    yield _event_type(data), data.encode()
                if done:
                    return
                if response_id in self.background.tasks:  # produced here: follow the hub
                    while True:
                        try:
                            got = await asyncio.wait_for(queue.get(), timeout=1.0)
                        except TimeoutError:
                            break
                        if got is None:
                            break
                        seq, raw = got
                        if seq > last:
                            last = seq
                            yield _event_type(raw.decode()), raw
                else:  # produced by another process: its NOTIFY (or a short poll) wakes us
                    await self.notifier.wait(response_id, 0.5 if self.notifier.enabled else 0.2)
        finally:
            self.hub.unsubscribe(response_id, queue)

    # -- token counting ---------------------------------------------------------------
    async def count_input_tokens(self, params: InputTokensRequest) -> dict[str, Any]:
        """`{"object": "response.input_tokens", "input_tokens": n}`: what `create` with the
        same fields would send the model (history, instructions, tools, truncation included),
        counted by the model's own tokenizer, so it equals that response's
        `usage.input_tokens`. Nothing is stored or locked."""
        create = CreateResponse.model_validate(params.model_dump(exclude_unset=True, by_alias=True, exclude={"personality"}))
        if create.conversation is not None and create.previous_response_id:
            raise invalid("Use either 'conversation' or 'previous_response_id', not both.", "previous_response_id")
        model = self._model(create.model)
        new_items = context.normalize_input(create.input)
        if any(item.get("type") == "item_reference" for item in new_items):
            await self.settle_writes()
        new_items, _ = await resolve_references(self.store.engine, new_items)
        conv_id = conversation_id(create.conversation)
        if conv_id:
            if await self.conversations.get(conv_id) is None:
                raise not_found(f"Conversation with id '{conv_id}' not found.", "conversation")
            tail = await conversation_tail(self.conversations, model.provider, conv_id)
        else:
            tail = await self._history(create.previous_response_id, model.provider)
        past = tail.items
        if not new_items and not past:
            raise invalid("Missing required parameter: 'input'.", "input", "missing_required_parameter")
        prep = build_prepared(create, model, "resp_count", conv_id, past, new_items, tail.over)
        return {"object": "response.input_tokens", "input_tokens": model.provider.count_tokens(prep.request)}

    # -- compaction -------------------------------------------------------------------
    async def compact(self, params: CompactRequest, caller: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """The `response.compaction` object and the x-ratelimit-* headers for the reply. The
        summary is a model call like any other: admitted through the route's rpm/tpm as
        `caller`, settled to its usage, paused with its upstream."""
        if not params.model:
            raise invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
        model = self._model(params.model)
        past = (await self._history(params.previous_response_id)).items
        new_items = context.normalize_input(params.input)
        if any(item.get("type") == "item_reference" for item in new_items):
            await self.settle_writes()
        new_items, _ = await resolve_references(self.store.engine, new_items)
        items = past + new_items
        if not items:
            raise invalid("Nothing to compact: give 'input' or 'previous_response_id'.", "input", "missing_required_parameter")
        request = compaction_request(model, items)
        if caller is None or not self.limiter.limited(model.name):
            return await compact_items(self.paced(model.name, False), request, items), {}
        estimate = model.provider.count_tokens(request) + SUMMARY_TOKENS
        charged, headers = await self._charge(model, caller, estimate, False, params.model)
        body: dict[str, Any] | None = None
        try:
            body = await compact_items(self.paced(model.name, False), request, items)
        finally:
            await self.settle_charge(model.name, caller, charged, body)
        return body, headers


def _given_ids(value: Any) -> set[str]:
    """The ids a client set on its input items (generated ones cannot collide with history)."""
    if not isinstance(value, list):
        return set()
    return {raw["id"] for raw in value if isinstance(raw, dict) and raw.get("type") != "item_reference" and isinstance(raw.get("id"), str)}


def _model_output(output: list[dict[str, Any]]) -> bool:
    """Whether the model said anything (text or a call): hosted tool items alone are not."""
    return any(item.get("type") in ("message", "function_call") for item in output)


def _event_type(data: str) -> str:
    return str(orjson.loads(data).get("type", "message"))
