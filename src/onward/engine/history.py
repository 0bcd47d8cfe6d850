"""A model request's history read from its tail: a conversation's (or thread's) items, or a
`previous_response_id` chain's, newest first, only as far back as the model's window reaches.

The store keeps a model-independent token estimate with every item (store/items.py
`estimate_tokens`) and running sums, so one page holds about `PAGE_FACTOR` windows' worth of
estimated tokens. The estimate only sizes the read: the page is then counted by the provider's
own counter, and another, older page is read until what was read counts at least a full window
(or the history ends). Every item older than that could not be kept anyway: `fit_context` keeps
the longest suffix that fits, and a suffix that holds the read tail counts at least as much.
So for a history that fits, the whole of it is read and the request is exactly what it was
when every item was read; for one that does not, `truncation: "auto"` keeps the same suffix and
`"disabled"` answers the same 400 (context.fit_context).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..providers.base import ModelRequest, Provider
from ..store.conversations import ConversationStore, Page
from ..store.responses import ResponseStore
from . import context

PAGE_FACTOR = 2  # estimated tokens per page, in windows: the estimate runs high for most text (JSON around it)
PAGE_SLACK = 256  # estimated tokens added to every page (a tiny window still reads a few items)


@dataclass
class Tail:
    """What a model request needs of a history: its newest `items`, oldest first. `over`: when
    older items were left unread, the provider's count of `items` alone, which reaches the
    window (context.fit_context then need not count the whole request to know it does not fit)."""

    items: list[dict[str, Any]]
    over: int | None = None


async def read_tail(provider: Provider, first: Callable[[int], Awaitable[Page | None]], older: Callable[[int, Any], Awaitable[Page]]) -> Tail | None:
    """The tail of a history, oldest first: `first(budget)` reads the newest page (None: the
    history does not exist), `older(budget, cursor)` the page before a cursor; `budget` is in
    estimated tokens and doubles with every page read."""
    window = provider.context_window
    budget = PAGE_FACTOR * window + PAGE_SLACK
    page = await first(budget)
    if page is None:
        return None
    items = page.items
    while page.more:
        tokens = counted(provider, items)
        if tokens >= window:
            return Tail(items, tokens)
        budget *= 2
        page = await older(budget, page.cursor)
        items = page.items + items
    return Tail(items)


def counted(provider: Provider, items: list[dict[str, Any]]) -> int:
    """The provider's count of `items` alone, as the model would see them (no instructions,
    no tools: a lower bound of any request that holds them)."""
    return provider.count_tokens(ModelRequest(model="", input=context.model_view(items)))


async def conversation_tail(store: ConversationStore, provider: Provider, conv_id: str) -> Tail:
    """The tail of a conversation (or thread) a model request over it needs."""
    tail = await read_tail(
        provider,
        lambda budget: store.tail(conv_id, budget),
        lambda budget, cursor: store.tail(conv_id, budget, before=cursor),
    )
    return tail or Tail([])


async def chain_tail(store: ResponseStore, provider: Provider, response_id: str) -> Tail | None:
    """The tail of a `previous_response_id` chain ending at `response_id` (its inputs and
    outputs); None when that response does not exist."""

    async def older(budget: int, cursor: Any) -> Page:
        page = await store.chain_tail(cursor, budget)
        return page if page is not None else Page([], False)  # deleted meanwhile: the chain ends there

    return await read_tail(provider, lambda budget: store.chain_tail(response_id, budget), older)
