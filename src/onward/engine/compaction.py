"""Compaction (POST /v1/responses/compact): a conversation summarized by its model into one
`compaction` item that stands for it in later requests."""

from __future__ import annotations

import time
from typing import Any

from ..ids import new_id
from ..providers.base import ModelRequest, ProviderError
from . import context
from .events import usage_dict
from .faults import http_error

SUMMARY_TOKENS = 512  # the summary's output cap


def compaction_request(model: Any, items: list[dict[str, Any]]) -> ModelRequest:
    """The model request that summarizes `items` (truncated from the oldest to fit the window)."""
    transcript = _transcript(context.model_view(items))
    request = ModelRequest(
        model=model.upstream_name,
        input=[{"type": "message", "role": "user", "content": "Summarize this conversation so that it can be continued from the summary alone. Keep names, numbers, decisions and open questions.\n\n" + transcript}],
        instructions="You write faithful, compact summaries of conversations.",
        max_output_tokens=SUMMARY_TOKENS,
    )
    return context.fit_context(model.provider, request, "auto")


async def compact_items(provider: Any, request: ModelRequest, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The `response.compaction` object for `items`: the user's messages kept as they are, then
    the summary `provider` writes for `request` (see `compaction_request`) as one `compaction`
    item. A model failure raises its HTTP error."""
    summary: list[str] = []
    usage = None
    try:
        async for event in provider.stream(request):
            if getattr(event, "kind", "") == "text_delta":
                summary.append(event.text)  # type: ignore[union-attr]
            elif getattr(event, "kind", "") == "finish":
                usage = event.usage  # type: ignore[union-attr]
    except ProviderError as exc:
        raise http_error(exc) from exc
    kept = [i for i in items if i.get("type") == "message" and i.get("role") == "user"]
    compaction = {"id": new_id("cmp"), "type": "compaction", "encrypted_content": context.encode_compaction("".join(summary).strip())}
    return {
        "id": new_id("resp"),
        "object": "response.compaction",
        "created_at": int(time.time()),
        "output": kept + [compaction],
        "usage": usage_dict(usage.input_tokens if usage else 0, usage.output_tokens if usage else 0),
    }


def _transcript(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            content = item.get("content")
            text = content if isinstance(content, str) else " ".join(str(p.get("text", "")) for p in content or [])
            lines.append(f"{item.get('role')}: {text}")
        elif kind == "function_call":
            lines.append(f"assistant called {item.get('name')}({item.get('arguments')})")
        elif kind == "function_call_output":
            lines.append(f"tool result: {item.get('output')}")
    return "\n".join(lines)
