"""A deterministic stand-in for a model, for flows a tiny model cannot be trusted to produce.

It plays back replies listed by a test: each rule optionally `match`es (a regex) the text of
the last input item — a user message, or a function call's output — and gives `text`,
`tool_calls`, an `error`, or a `finish` reason. It replaces the model only; HTTP, storage and
tools stay real. Like a real model it calls only tools it is shown (a rule calling another
tool is passed over) and obeys a forcing `tool_choice`.

```toml
[models.scripted]
provider = "scripted"
script = [
  { match = "weather", tool_calls = [{ name = "get_weather", arguments = { city = "Paris" } }] },
  { match = "^22C", text = "It is 22C in Paris." },
  { text = "Hello from the script." },
]
```
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from ..ids import new_id
from .base import (
    Finish,
    ModelEvent,
    ModelRequest,
    ProviderError,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    offered_tools,
)


def _last_text(request: ModelRequest) -> str:
    if not request.input:
        return ""
    item = request.input[-1]
    if item.get("type") == "function_call_output":
        out = item.get("output")
        return out if isinstance(out, str) else orjson.dumps(out).decode()
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))


def _words(request: ModelRequest) -> int:
    text = (request.instructions or "") + " ".join(str(i.get("content") or i.get("output") or "") for i in request.input)
    return max(1, len(text.split()))


class ScriptedProvider:
    def __init__(self, script: list[dict[str, Any]] | None = None, *, context_window: int = 8192, delay: float = 0.0):
        self.script = script or [{"text": "OK."}]
        self.context_window = context_window
        self.delay = delay  # seconds between chunks, to let tests cancel mid-stream

    def _rule(self, request: ModelRequest) -> dict[str, Any]:
        text = _last_text(request)
        shown = {t.get("name") for t in request.tools}
        for rule in self.script:
            if shown and any(c["name"] not in shown for c in rule.get("tool_calls") or ()):
                continue  # a model calls only tools it is shown
            if "match" not in rule or re.search(rule["match"], text, re.IGNORECASE | re.DOTALL):
                return rule
        return {"text": "OK."}

    @staticmethod
    def _obey(rule: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
        """A forcing tool_choice holds as a constrained model's would: a turn the script answers
        in text becomes one call to the forced tool (the first shown, for `required`), `{}`."""
        choice = request.tool_choice
        forced = choice.get("name") if isinstance(choice, dict) and choice.get("type") == "function" else None
        if choice == "required" and request.tools:
            forced = request.tools[0].get("name")
        calls = rule.get("tool_calls") or []
        if forced and "error" not in rule and not (calls and (choice == "required" or all(c["name"] == forced for c in calls))):
            return {"tool_calls": [{"name": forced, "arguments": {}}]}
        return rule

    def count_tokens(self, request: ModelRequest) -> int:
        return _words(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        request = offered_tools(request)
        rule = self._obey(self._rule(request), request)
        delay = float(rule.get("delay", self.delay))
        if "error" in rule:
            err = rule["error"]
            raise ProviderError(err.get("message", "scripted failure"), code=err.get("code", "server_error"), status=int(err.get("status", 502)))
        produced = 0
        if "tool_calls" in rule and request.tool_choice != "none":
            for index, call in enumerate(rule["tool_calls"]):
                args = call.get("arguments", {})
                args_text = args if isinstance(args, str) else orjson.dumps(args).decode()
                yield ToolCallStart(index=index, call_id=new_id("call"), name=call["name"])
                for start in range(0, len(args_text), 8):
                    if delay:
                        await asyncio.sleep(delay)
                    yield ToolCallDelta(index=index, arguments=args_text[start : start + 8])
                produced += len(args_text.split()) or 1
            yield Finish("tool_calls", Usage(self.count_tokens(request), produced))
            return
        words = re.findall(r"\S+\s*", str(rule.get("text", "")))
        limit = request.max_output_tokens
        for n, word in enumerate(words):
            if limit is not None and n >= limit:
                yield Finish("length", Usage(self.count_tokens(request), n))
                return
            if delay:
                await asyncio.sleep(delay)
            yield TextDelta(word)
        yield Finish(rule.get("finish", "stop"), Usage(self.count_tokens(request), len(words)))

    async def aclose(self) -> None:
        return None
