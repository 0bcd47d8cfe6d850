"""One response's `response.*` events as a run's `thread.*` events, steps and messages.

A `message` output item becomes a `message_creation` step and a `thread.message`; the
`function_call` items of a response become one `tool_calls` step whose entries stream as
`thread.run.step.delta`s with their `index`. Step and message objects are kept here; the
worker stores them.
"""

from __future__ import annotations

import time
from typing import Any

from ..ids import new_id
from .hub import Emitter
from .objects import citation_marker, file_search_results, parts_to_content, run_usage, step_object
from .partial import mark_incomplete, partial_item


def _delta(step: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": step["id"], "object": "thread.run.step.delta", "delta": {"step_details": {"type": "tool_calls", "tool_calls": [entry]}}}


def code_outputs(outputs: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A code_interpreter_call's outputs as a run step's: logs, and images by their File id
    (the Assistants face exports them: their URL is /v1/files/{id}/content)."""
    out: list[dict[str, Any]] = []
    for o in outputs or []:
        if o.get("type") == "logs":
            out.append({"type": "logs", "logs": o.get("logs", "")})
        elif o.get("type") == "image" and "/v1/files/" in str(o.get("url")):
            out.append({"type": "image", "image": {"file_id": str(o["url"]).split("/v1/files/", 1)[1].split("/", 1)[0]}})
    return out


def _plain(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else value.model_dump(exclude_unset=True)


def _now() -> int:
    return int(time.time())


class Translator:
    def __init__(self, run: dict[str, Any], emitter: Emitter) -> None:
        self.run = run
        self.em = emitter
        self.steps: list[dict[str, Any]] = []  # every step this response opened, in order
        self.dirty: list[dict[str, Any]] = []  # steps to write
        self.message_fields: list[dict[str, Any]] = []  # of output messages already in the thread, to write
        self.messages: dict[str, dict[str, Any]] = {}  # item id -> message object
        self.calls: list[dict[str, Any]] = []  # function_call items, in output order
        self._msg_step: dict[str, dict[str, Any]] = {}
        self._tool_step: dict[str, Any] | None = None
        self._call_index: dict[str, int] = {}  # item id -> index within the tool step
        self._first_delta: set[str] = set()
        self._text_len: dict[str, int] = {}
        self._texts: dict[str, list[str]] = {}  # item id -> its text so far (without markers)
        self._notes: dict[str, list[dict[str, Any]]] = {}  # item id -> its Responses annotations so far
        self.kept: set[str] = set()  # ids of messages already in the thread
        self._searches: dict[str, dict[str, Any]] = {}  # file_search_call id -> its step
        self._codes: dict[str, dict[str, Any]] = {}  # code_interpreter_call id -> its step
        self._closing: dict[str, Any] | None = None  # a finished message step, closed when the next one opens
        self.response: dict[str, Any] | None = None

    # -- helpers ----------------------------------------------------------------------
    def _message(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": item["id"],
            "object": "thread.message",
            "created_at": _now(),
            "assistant_id": self.run["assistant_id"],
            "thread_id": self.run["thread_id"],
            "run_id": self.run["id"],
            "status": "in_progress",
            "incomplete_details": None,
            "incomplete_at": None,
            "completed_at": None,
            "role": "assistant",
            "content": [],
            "attachments": [],
            "metadata": {},
        }

    def _open_step(self, kind: str, details: dict[str, Any]) -> dict[str, Any]:
        self._flush_closing()
        step = step_object(self.run, kind, details, _now())
        self.steps.append(step)
        self.dirty.append(step)
        self.em.emit("thread.run.step.created", step)
        self.em.emit("thread.run.step.in_progress", step)
        return step

    def _end_step(self, step: dict[str, Any], status: str, **fields: Any) -> None:
        step["status"] = status
        stamp = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at", "expired": "expired_at"}[status]
        step[stamp] = _now()
        step.update(fields)
        self.dirty.append(step)
        self.em.emit(f"thread.run.step.{status}", step)

    def _flush_closing(self) -> None:
        if self._closing is not None:
            step, self._closing = self._closing, None
            self._end_step(step, "completed")

    # -- events -----------------------------------------------------------------------
    def feed(self, event: Any) -> None:
        kind = event.type
        if kind == "response.output_item.added":
            item = _plain(event.item)
            if item["type"] == "message":
                step = self._open_step("message_creation", {"type": "message_creation", "message_creation": {"message_id": item["id"]}})
                self._msg_step[item["id"]] = step
                msg = self._message(item)
                self.messages[item["id"]] = msg
                self.em.emit("thread.message.created", msg)
                self.em.emit("thread.message.in_progress", msg)
            elif item["type"] == "file_search_call":
                step = self._open_step("tool_calls", {"type": "tool_calls", "tool_calls": []})
                search: dict[str, Any] = {"id": new_id("call"), "type": "file_search", "file_search": {"ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0}, "results": []}}
                step["step_details"]["tool_calls"].append(search)
                self._searches[item["id"]] = step
                self.em.emit("thread.run.step.delta", _delta(step, {"index": 0, "id": search["id"], "type": "file_search", "file_search": {}}))
            elif item["type"] == "code_interpreter_call":
                step = self._open_step("tool_calls", {"type": "tool_calls", "tool_calls": []})
                call: dict[str, Any] = {"id": new_id("call"), "type": "code_interpreter", "code_interpreter": {"input": "", "outputs": []}}
                step["step_details"]["tool_calls"].append(call)
                self._codes[item["id"]] = step
                self.em.emit("thread.run.step.delta", _delta(step, {"index": 0, "id": call["id"], "type": "code_interpreter", "code_interpreter": {"input": "", "outputs": []}}))
            elif item["type"] == "function_call":
                if self._tool_step is None:
                    self._tool_step = self._open_step("tool_calls", {"type": "tool_calls", "tool_calls": []})
                calls = self._tool_step["step_details"]["tool_calls"]
                index = len(calls)
                self._call_index[item["id"]] = index
                fn = {"name": item["name"], "arguments": "", "output": None}
                calls.append({"id": item["call_id"], "type": "function", "function": fn})
                self.em.emit("thread.run.step.delta", self._tool_delta(index, {"id": item["call_id"], "type": "function", "function": dict(fn)}))
        elif kind == "response.output_text.delta":
            self._text_len[event.item_id] = self._text_len.get(event.item_id, 0) + len(event.delta)
            self._texts.setdefault(event.item_id, []).append(event.delta)
            delta: dict[str, Any] = {"value": event.delta}
            if event.item_id not in self._first_delta:
                self._first_delta.add(event.item_id)
                delta["annotations"] = []
            self.em.emit("thread.message.delta", {"id": event.item_id, "object": "thread.message.delta", "delta": {"content": [{"index": 0, "type": "text", "text": delta}]}})
        elif kind == "response.output_text.annotation.added":
            note = _plain(event.annotation)
            if note.get("type") == "file_citation" and event.item_id in self.messages:
                marker = citation_marker(event.annotation_index, note.get("filename"))
                pos = sum(len(t) for t in self._texts.get(event.item_id, []))
                self._notes.setdefault(event.item_id, []).append({"type": "file_citation", "file_id": note.get("file_id"), "filename": note.get("filename"), "index": pos})
                start = self._text_len.get(event.item_id, 0)
                self._text_len[event.item_id] = start + len(marker)
                cite = {"index": event.annotation_index, "type": "file_citation", "text": marker, "start_index": start, "end_index": start + len(marker), "file_citation": {"file_id": note.get("file_id")}}
                self.em.emit("thread.message.delta", {"id": event.item_id, "object": "thread.message.delta", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": marker, "annotations": [cite]}}]}})
        elif kind == "response.code_interpreter_call_code.delta" and event.item_id in self._codes:
            step = self._codes[event.item_id]
            step["step_details"]["tool_calls"][0]["code_interpreter"]["input"] += event.delta
            self.em.emit("thread.run.step.delta", _delta(step, {"index": 0, "type": "code_interpreter", "code_interpreter": {"input": event.delta}}))
        elif kind == "response.function_call_arguments.delta":
            at = self._call_index.get(event.item_id)
            if at is not None and self._tool_step is not None:
                self._tool_step["step_details"]["tool_calls"][at]["function"]["arguments"] += event.delta
                self.em.emit("thread.run.step.delta", self._tool_delta(at, {"type": "function", "function": {"arguments": event.delta}}))
        elif kind == "response.output_item.done":
            item = _plain(event.item)
            if item["type"] == "message":
                done = self.messages.get(item["id"])
                if done is None:
                    return
                msg = done
                msg["content"] = parts_to_content(item.get("content") or [])
                if item.get("status") == "completed":
                    msg["status"] = "completed"
                    msg["completed_at"] = _now()
                    self.em.emit("thread.message.completed", msg)
                    self._closing = self._msg_step.get(item["id"])
            elif item["type"] == "file_search_call" and item["id"] in self._searches:
                step = self._searches.pop(item["id"])
                step["step_details"]["tool_calls"][0]["file_search"]["results"] = file_search_results(item.get("results"))
                self._end_step(step, "completed" if item.get("status") == "completed" else "failed")
            elif item["type"] == "code_interpreter_call" and item["id"] in self._codes:
                step = self._codes.pop(item["id"])
                entry = step["step_details"]["tool_calls"][0]["code_interpreter"]
                entry["input"] = item.get("code") or ""
                entry["outputs"] = code_outputs(item.get("outputs"))
                if entry["outputs"]:
                    self.em.emit("thread.run.step.delta", _delta(step, {"index": 0, "type": "code_interpreter", "code_interpreter": {"outputs": [dict(o, index=n) for n, o in enumerate(entry["outputs"])]}}))
                self._end_step(step, "completed" if item.get("status") == "completed" else "failed")
            elif item["type"] == "function_call":
                self.calls.append(item)
                at = self._call_index.get(item["id"])
                if at is not None and self._tool_step is not None:
                    self._tool_step["step_details"]["tool_calls"][at]["function"]["arguments"] = item.get("arguments", "")
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.response = _plain(event.response)

    def _tool_delta(self, index: int, entry: dict[str, Any]) -> dict[str, Any]:
        assert self._tool_step is not None
        return {"id": self._tool_step["id"], "object": "thread.run.step.delta", "delta": {"step_details": {"type": "tool_calls", "tool_calls": [{"index": index, **entry}]}}}

    # -- endings ----------------------------------------------------------------------
    def partials(self, outcome: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The thread items and Assistants fields of the messages cut short by `outcome`
        (cancelled | expired | failed), in their kept `incomplete` form; their objects are
        marked so `finish` announces them with their text."""
        items, fields = [], []
        for mid, msg in self.messages.items():
            if mid in self.kept or msg["status"] == "completed":
                continue
            item = partial_item(mid, "".join(self._texts.get(mid, [])), self._notes.get(mid, []))
            fields.append(mark_incomplete(msg, item, outcome))
            msg["status"] = "in_progress"  # announced by finish
            items.append(item)
        return items, fields

    def finish(self, outcome: str, usage: tuple[int, int] | None, last_error: dict[str, Any] | None = None) -> None:
        """Close what is open. outcome: completed | requires_action | incomplete | failed |
        cancelled | expired. The last step of the response carries its usage."""
        if usage and self.steps:
            self.steps[-1]["usage"] = run_usage(*usage)
            self.dirty.append(self.steps[-1])
        self._flush_closing()
        reason = {"incomplete": "max_tokens", "failed": "run_failed", "cancelled": "run_cancelled", "expired": "run_expired"}.get(outcome)
        for msg in self.messages.values():
            if msg["status"] == "in_progress":
                msg["status"] = "incomplete"
                msg["incomplete_at"] = msg.get("incomplete_at") or _now()
                msg["incomplete_details"] = msg.get("incomplete_details") or {"reason": reason or "run_failed"}
                self.em.emit("thread.message.incomplete", msg)
        step_status = {"failed": "failed", "cancelled": "cancelled", "expired": "expired"}.get(outcome, "completed")
        for step in self.steps:
            if step["status"] != "in_progress":
                continue
            if step is self._tool_step and outcome == "requires_action":
                continue  # completes when the outputs arrive
            self._end_step(step, step_status, last_error=last_error if step_status == "failed" else None)
