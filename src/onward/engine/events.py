"""Building a response and its `response.*` events from the `openai` package's own types.

`ResponseBuilder` owns the response object while it is being produced, numbers the events,
and keeps output items in the final object identical to the ones the events carried.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from openai.types.responses import (
    ResponseCodeInterpreterCallCodeDeltaEvent,
    ResponseCodeInterpreterCallCodeDoneEvent,
    ResponseCodeInterpreterCallCompletedEvent,
    ResponseCodeInterpreterCallInProgressEvent,
    ResponseCodeInterpreterCallInterpretingEvent,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseCustomToolCallInputDeltaEvent,
    ResponseCustomToolCallInputDoneEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFileSearchCallCompletedEvent,
    ResponseFileSearchCallInProgressEvent,
    ResponseFileSearchCallSearchingEvent,
    ResponseIncompleteEvent,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputTextAnnotationAddedEvent,
    ResponseQueuedEvent,
)
from pydantic import BaseModel

from ..ids import new_id
from . import toolset

# The SDK's lifecycle event types; `LifecycleEvent` carries the same fields.
LIFECYCLE_TYPES = {
    "response.created": ResponseCreatedEvent,
    "response.queued": ResponseQueuedEvent,
    "response.in_progress": ResponseInProgressEvent,
    "response.completed": ResponseCompletedEvent,
    "response.failed": ResponseFailedEvent,
    "response.incomplete": ResponseIncompleteEvent,
}


@dataclass
class LifecycleEvent:
    """`response.created` … `response.completed`, carrying the response object as Onward built
    it (a dict). Serializing it through the SDK's `Response` would turn `created_at` into a
    float, and validating the whole object three times per request costs more than the rest
    of the request's events together; tests validate these against `LIFECYCLE_TYPES`."""

    type: str
    response: dict[str, Any]
    sequence_number: int


class WireEvent:
    """An event of the text and function-call path as the plain dict that its SDK type dumps to
    (`model_dump(exclude_unset=True)`: the same fields, top-level keys in the SDK's order), read
    by attribute like the SDK's models (`event.type`, `event.delta`, `event.item` as a dict).

    These events are 25 of the 29 of a 20-token stream: building and validating them as
    pydantic models, then dumping them, cost more CPU than the rest of the request. Their
    values are Onward's own, already of the wire's types; tests/unit/test_wire_types.py checks
    each against the SDK's type."""

    __slots__ = ("data", "type")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.type: str = data["type"]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"WireEvent({self.data!r})"


def encode(event: BaseModel | LifecycleEvent | WireEvent) -> bytes:
    """One event as compact JSON: only the fields Onward set (no stray nulls)."""
    if isinstance(event, WireEvent):
        return orjson.dumps(event.data)
    if isinstance(event, LifecycleEvent):
        return orjson.dumps({"type": event.type, "response": event.response, "sequence_number": event.sequence_number})
    return event.model_dump_json(exclude_unset=True).encode()


# The SDK's field order (alphabetical; `name` on arguments.done is an extra field, so last).
def _item_added(item: dict[str, Any], index: int, seq: int) -> WireEvent:
    return WireEvent({"item": item, "output_index": index, "sequence_number": seq, "type": "response.output_item.added"})


def _item_done(item: dict[str, Any], index: int, seq: int) -> WireEvent:
    return WireEvent({"item": item, "output_index": index, "sequence_number": seq, "type": "response.output_item.done"})


def _part(kind: str, item_id: str, index: int, part: dict[str, Any], seq: int) -> WireEvent:
    return WireEvent({"content_index": 0, "item_id": item_id, "output_index": index, "part": part, "sequence_number": seq, "type": kind})


# The SDK types `Response.error.code` as a closed set; finer provider codes go in the message.
_WIRE_CODES = {"server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout", "invalid_image"}


def response_error(code: str, message: str) -> dict[str, str]:
    if code in _WIRE_CODES:
        return {"code": code, "message": message}
    return {"code": "server_error", "message": f"[{code}] {message}"}


def usage_dict(input_tokens: int, output_tokens: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def error_event(seq: int, code: str, message: str, param: str | None = None) -> ResponseErrorEvent:
    """Both specs' shapes in one payload: OpenAI's flat fields and Open Responses' nested one."""
    return ResponseErrorEvent.model_validate(
        {
            "type": "error",
            "code": code,
            "message": message,
            "param": param,
            "sequence_number": seq,
            "error": {"type": "server_error" if code in ("server_error", "upstream_error") else "invalid_request_error", "code": code, "message": message, "param": param},
        }
    )


def _event_logprobs(logprobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Token log-probabilities as the text delta/done events carry them (no `bytes`)."""
    return [
        {"token": lp["token"], "logprob": lp["logprob"], "top_logprobs": [{"token": t["token"], "logprob": t["logprob"]} for t in lp["top_logprobs"]]}
        for lp in logprobs
    ]


class ResponseBuilder:
    def __init__(self, body: dict[str, Any], sequence_start: int = 0, *, quiet: bool = False) -> None:
        self.body = body
        self.quiet = quiet  # nobody streams: keep the object current, skip the delta events
        self.seq = sequence_start
        self.output: list[dict[str, Any]] = body["output"]
        self._message: dict[str, Any] | None = None  # the open message item
        self._text: list[str] = []
        self._logprobs: list[dict[str, Any]] = []  # the open message's tokens, when asked for
        self._calls: dict[int, dict[str, Any]] = {}  # provider index -> open function_call item
        self._args: dict[int, list[str]] = {}
        self.fault: Exception | None = None  # what failed the response, when it failed
        self._targets = toolset.targets(body.get("tools"))  # model-visible name -> client tool

    def _next(self) -> int:
        seq = self.seq
        self.seq += 1
        return seq

    @property
    def open(self) -> bool:
        return self._message is not None or bool(self._calls)

    # -- lifecycle --------------------------------------------------------------------
    def lifecycle(self, event_type: str) -> Any:
        assert event_type in LIFECYCLE_TYPES
        return LifecycleEvent(event_type, dict(self.body, output=list(self.body["output"])), self._next())

    def set_status(self, status: str, **fields: Any) -> None:
        self.body["status"] = status
        if status in ("completed", "failed", "incomplete", "cancelled"):
            self.body["completed_at"] = int(time.time()) if status == "completed" else None
        self.body.update(fields)

    # -- text -------------------------------------------------------------------------
    def text_delta(self, text: str, logprobs: list[dict[str, Any]] | None = None) -> list[Any]:
        """Text of the open message (opened here if none is). `logprobs`: the tokens of `text`
        (providers.base.TokenLogprob), kept for the part and sent on the delta event. Quiet:
        the object is kept current and no event is built."""
        events: list[Any] = []
        message = self._message
        if message is None:
            message = self._message = {"id": new_id("msg"), "type": "message", "status": "in_progress", "role": "assistant", "content": []}
            self._text = []
            self._logprobs = []
            index = len(self.output)
            self.output.append(message)
            if not self.quiet:
                events.append(_item_added(dict(message, content=[]), index, self._next()))
                events.append(_part("response.content_part.added", message["id"], index, {"type": "output_text", "text": "", "annotations": [], "logprobs": []}, self._next()))
        self._text.append(text)
        if logprobs:
            self._logprobs.extend(logprobs)
        if self.quiet:
            return events
        output = self.output
        events.append(
            WireEvent(
                {
                    "content_index": 0,
                    "delta": text,
                    "item_id": message["id"],
                    "logprobs": _event_logprobs(logprobs) if logprobs else [],
                    "output_index": len(output) - 1 if output[-1] is message else output.index(message),
                    "sequence_number": self._next(),
                    "type": "response.output_text.delta",
                }
            )
        )
        return events

    @property
    def message_text(self) -> str:
        return "".join(self._text) if self._message is not None else ""

    def close_message(self, status: str = "completed", annotations: list[dict[str, Any]] | None = None) -> list[Any]:
        message = self._message
        if message is None:
            return []
        self._message = None
        index = self.output.index(message)
        text = "".join(self._text)
        part = {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": self._logprobs}
        message["content"] = [part]
        message["status"] = status
        if self.quiet:
            return []
        notes: list[Any] = [
            ResponseOutputTextAnnotationAddedEvent(
                type="response.output_text.annotation.added",
                item_id=message["id"],
                output_index=index,
                content_index=0,
                annotation_index=n,
                annotation=annotation,  # type: ignore[arg-type]
                sequence_number=self._next(),
            )
            for n, annotation in enumerate(annotations or [])
        ]
        item_id = message["id"]
        done = {"content_index": 0, "item_id": item_id, "logprobs": _event_logprobs(self._logprobs), "output_index": index, "sequence_number": self._next(), "text": text, "type": "response.output_text.done"}
        return notes + [
            WireEvent(done),
            _part("response.content_part.done", item_id, index, dict(part), self._next()),
            _item_done(dict(message, content=[dict(part)]), index, self._next()),
        ]

    # -- function calls ---------------------------------------------------------------
    def call_start(self, index: int, call_id: str, name: str) -> list[Any]:
        events = self.close_message()
        for open_index in [i for i in self._calls if i < index]:
            events += self.close_call(open_index)
        target = self._targets.get(name)
        item: dict[str, Any]
        if target is not None and target.kind == "custom":
            item = {"id": new_id("ctc"), "type": "custom_tool_call", "status": "in_progress", "call_id": call_id or new_id("call"), "name": target.name, "input": ""}
        else:
            item = {"id": new_id("fc"), "type": "function_call", "status": "in_progress", "call_id": call_id or new_id("call"), "name": target.name if target else name, "arguments": ""}
        if target is not None and target.namespace:
            item["namespace"] = target.namespace
        self._calls[index] = item
        self._args[index] = []
        self.output.append(item)
        if not self.quiet:
            events.append(_item_added(dict(item), len(self.output) - 1, self._next()))
        return events

    def call_delta(self, index: int, fragment: str) -> list[Any]:
        item = self._calls.get(index)
        if item is None:  # an upstream that sent arguments before the name: start a call now
            return self.call_start(index, "", "unknown") + self.call_delta(index, fragment)
        self._args[index].append(fragment)
        if self.quiet:
            return []
        if item["type"] == "custom_tool_call":  # stream the decoded input, not its JSON wrapping
            sent = item["input"]
            readable = toolset.partial_input("".join(self._args[index]))
            if len(readable) <= len(sent) or not readable.startswith(sent):
                return []
            item["input"] = readable
            return [ResponseCustomToolCallInputDeltaEvent(type="response.custom_tool_call_input.delta", item_id=item["id"], output_index=self.output.index(item), delta=readable[len(sent):], sequence_number=self._next())]
        return [
            WireEvent({"delta": fragment, "item_id": item["id"], "output_index": self.output.index(item), "sequence_number": self._next(), "type": "response.function_call_arguments.delta"})
        ]

    def close_call(self, index: int, status: str = "completed") -> list[Any]:
        item = self._calls.pop(index)
        arguments = "".join(self._args.pop(index))
        item["status"] = status
        out_index = self.output.index(item)
        if item["type"] == "custom_tool_call":
            sent, item["input"] = item["input"], toolset.custom_input(arguments)
            events: list[BaseModel] = []
            rest = item["input"][len(sent):] if item["input"].startswith(sent) else ""
            if rest and not self.quiet:
                events.append(ResponseCustomToolCallInputDeltaEvent(type="response.custom_tool_call_input.delta", item_id=item["id"], output_index=out_index, delta=rest, sequence_number=self._next()))
            return events + [
                ResponseCustomToolCallInputDoneEvent(type="response.custom_tool_call_input.done", item_id=item["id"], output_index=out_index, input=item["input"], sequence_number=self._next()),
                ResponseOutputItemDoneEvent(type="response.output_item.done", item=item, output_index=out_index, sequence_number=self._next()),  # type: ignore[arg-type]
            ]
        item["arguments"] = arguments
        if self.quiet:
            return []
        return [
            WireEvent(
                {"arguments": arguments, "item_id": item["id"], "output_index": out_index, "sequence_number": self._next(), "type": "response.function_call_arguments.done", "name": item["name"]}
            ),
            _item_done(dict(item), out_index, self._next()),
        ]

    # -- hosted tools -----------------------------------------------------------------
    def file_search_start(self, queries: list[str]) -> tuple[dict[str, Any], list[BaseModel]]:
        events = self.close_message()
        item: dict[str, Any] = {"id": new_id("fs"), "type": "file_search_call", "status": "in_progress", "queries": queries, "results": None}
        self.output.append(item)
        index = len(self.output) - 1
        events += [
            ResponseOutputItemAddedEvent(type="response.output_item.added", item=dict(item), output_index=index, sequence_number=self._next()),  # type: ignore[arg-type]
            ResponseFileSearchCallInProgressEvent(type="response.file_search_call.in_progress", item_id=item["id"], output_index=index, sequence_number=self._next()),
            ResponseFileSearchCallSearchingEvent(type="response.file_search_call.searching", item_id=item["id"], output_index=index, sequence_number=self._next()),
        ]
        return item, events

    def file_search_done(self, item: dict[str, Any], results: list[dict[str, Any]] | None, status: str = "completed") -> list[BaseModel]:
        item["status"] = status
        item["results"] = results
        index = self.output.index(item)
        return [
            ResponseFileSearchCallCompletedEvent(type="response.file_search_call.completed", item_id=item["id"], output_index=index, sequence_number=self._next()),
            ResponseOutputItemDoneEvent(type="response.output_item.done", item=item, output_index=index, sequence_number=self._next()),  # type: ignore[arg-type]
        ]

    def code_start(self, container_id: str, code: str) -> tuple[dict[str, Any], list[BaseModel]]:
        """A code_interpreter_call item: added, in progress, its code (one delta), interpreting."""
        events = self.close_message()
        item: dict[str, Any] = {"id": new_id("ci"), "type": "code_interpreter_call", "status": "in_progress", "code": "", "container_id": container_id, "outputs": None}
        self.output.append(item)
        index = len(self.output) - 1
        events += [
            ResponseOutputItemAddedEvent(type="response.output_item.added", item=dict(item), output_index=index, sequence_number=self._next()),  # type: ignore[arg-type]
            ResponseCodeInterpreterCallInProgressEvent(type="response.code_interpreter_call.in_progress", item_id=item["id"], output_index=index, sequence_number=self._next()),
        ]
        if code and not self.quiet:
            events.append(ResponseCodeInterpreterCallCodeDeltaEvent(type="response.code_interpreter_call_code.delta", item_id=item["id"], output_index=index, delta=code, sequence_number=self._next()))
        item["code"] = code
        item["status"] = "interpreting"
        events += [
            ResponseCodeInterpreterCallCodeDoneEvent(type="response.code_interpreter_call_code.done", item_id=item["id"], output_index=index, code=code, sequence_number=self._next()),
            ResponseCodeInterpreterCallInterpretingEvent(type="response.code_interpreter_call.interpreting", item_id=item["id"], output_index=index, sequence_number=self._next()),
        ]
        return item, events

    def code_done(self, item: dict[str, Any], outputs: list[dict[str, Any]] | None, status: str = "completed") -> list[BaseModel]:
        item["status"] = status
        item["outputs"] = outputs
        index = self.output.index(item)
        return [
            ResponseCodeInterpreterCallCompletedEvent(type="response.code_interpreter_call.completed", item_id=item["id"], output_index=index, sequence_number=self._next()),
            ResponseOutputItemDoneEvent(type="response.output_item.done", item=item, output_index=index, sequence_number=self._next()),  # type: ignore[arg-type]
        ]

    def close_all(self, status: str = "completed", annotations: list[dict[str, Any]] | None = None) -> list[Any]:
        events = self.close_message(status, annotations)
        for index in sorted(self._calls):
            events += self.close_call(index, status)
        return events

    def error(self, code: str, message: str) -> BaseModel:
        return error_event(self._next(), code, message)
