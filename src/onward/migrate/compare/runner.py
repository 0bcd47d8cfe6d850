"""Run the suite against one target with the official SDK, streaming, and time every turn.

Assistants targets: a thread per conversation, `runs.stream` with the turn as
`additional_messages`, `requires_action` answered with `submit_tool_outputs_stream` from the
suite's `tool_outputs`. Responses targets: a `previous_response_id` chain per conversation,
`responses.stream`, function calls answered with `function_call_output` items. Latency is
wall time for the whole turn (tool loop included), TTFT the time to the first text delta.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import openai

from .config import Case, Config, Target

MAX_TOOL_ROUNDS = 5
TERMINAL = ("thread.run.completed", "thread.run.failed", "thread.run.incomplete", "thread.run.cancelled", "thread.run.expired")


@dataclass
class Turn:
    """One measured turn; times in milliseconds, tokens summed over the tool loop."""

    target: str
    case: int
    conversation: str
    repeat: int
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    error: str | None = None


def _messages(value: str | list) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [{"role": i.get("role", "user"), "content": i.get("content", "")} for i in value if isinstance(i, dict)]


def _output(case: Case, name: str) -> str:
    value = case.tool_outputs.get(name, "ok")
    return value if isinstance(value, str) else json.dumps(value)


def _arguments(raw: str | None) -> Any:
    try:
        return json.loads(raw or "{}")
    except json.JSONDecodeError:
        return raw


class _Assistants:
    def __init__(self, client: openai.OpenAI, target: Target) -> None:
        self.client, self.target = client, target
        self.thread: str | None = None

    def turn(self, case: Case, turn: Turn, start: float) -> None:
        runs = self.client.beta.threads.runs
        if self.thread is None:
            self.thread = self.client.beta.threads.create().id
        manager = runs.stream(thread_id=self.thread, assistant_id=self.target.assistant_id or "", additional_messages=_messages(case.input))  # type: ignore[arg-type]
        for _ in range(MAX_TOOL_ROUNDS):
            pending: list[Any] = []
            run_id = None
            with manager as stream:
                for event in stream:
                    if event.event == "thread.message.delta" and turn.ttft_ms is None:
                        turn.ttft_ms = (time.perf_counter() - start) * 1000
                    elif event.event == "thread.run.requires_action":
                        run_id = event.data.id
                        pending = list(event.data.required_action.submit_tool_outputs.tool_calls) if event.data.required_action else []
                    elif event.event in ("thread.run.failed", "thread.run.expired", "thread.run.cancelled", "thread.run.incomplete"):
                        err = getattr(event.data, "last_error", None)
                        turn.error = f"run_{event.event.rsplit('.', 1)[-1]}" + (f":{err.code}" if err else "")
                    usage = getattr(event.data, "usage", None) if event.event in TERMINAL else None
                    if usage is not None:  # a run's usage covers its whole tool loop
                        turn.input_tokens += usage.prompt_tokens
                        turn.output_tokens += usage.completion_tokens
                    if event.event == "thread.message.completed":
                        turn.text += "".join(p.text.value for p in event.data.content if p.type == "text")
            if not pending or run_id is None:
                return
            outputs = []
            for call in pending:
                turn.tool_calls.append({"name": call.function.name, "arguments": _arguments(call.function.arguments)})
                outputs.append({"tool_call_id": call.id, "output": _output(case, call.function.name)})
            manager = runs.submit_tool_outputs_stream(thread_id=self.thread, run_id=run_id, tool_outputs=outputs)  # type: ignore[assignment,arg-type]


class _Responses:
    def __init__(self, client: openai.OpenAI, target: Target) -> None:
        self.client, self.target = client, target
        self.previous: str | None = None

    def turn(self, case: Case, turn: Turn, start: float) -> None:
        items: Any = case.input
        for _ in range(MAX_TOOL_ROUNDS):
            extra = {"previous_response_id": self.previous} if self.previous else {}
            with self.client.responses.stream(input=items, **self.target.settings, **extra) as stream:  # type: ignore[call-overload]
                for event in stream:
                    if event.type == "response.output_text.delta" and turn.ttft_ms is None:
                        turn.ttft_ms = (time.perf_counter() - start) * 1000
                final = stream.get_final_response()
            self.previous = final.id
            if final.usage:
                turn.input_tokens += final.usage.input_tokens
                turn.output_tokens += final.usage.output_tokens
            if final.status in ("failed", "incomplete", "cancelled"):
                turn.error = f"response_{final.status}" + (f":{final.error.code}" if final.error else "")
            turn.text += final.output_text
            calls = [item for item in final.output if item.type == "function_call"]
            if not calls:
                return
            items = []
            for call in calls:
                turn.tool_calls.append({"name": call.name, "arguments": _arguments(call.arguments)})
                items.append({"type": "function_call_output", "call_id": call.call_id, "output": _output(case, call.name)})


def run_target(config: Config, target: Target, progress: Callable[[], None] | None = None) -> list[Turn]:
    """Every conversation of the suite, `repeats` times, up to `concurrency` at once. Errors are
    recorded per turn by kind (the exception class, or the run/response status), never raised."""
    client = openai.OpenAI(base_url=target.base_url, api_key=target.api_key or "sk-none", max_retries=config.max_retries, timeout=600)
    jobs = [(repeat, cases) for repeat in range(config.repeats) for cases in config.conversations().values()]

    def conversation(job: tuple[int, list[Case]]) -> list[Turn]:
        repeat, cases = job
        runner = _Assistants(client, target) if target.kind == "assistants" else _Responses(client, target)
        turns = []
        for case in cases:
            turn = Turn(target.name, case.index, case.conversation, repeat)
            start = time.perf_counter()
            try:
                runner.turn(case, turn, start)
            except openai.APIStatusError as exc:
                turn.error = f"http_{exc.status_code}"
            except openai.APIError as exc:
                turn.error = type(exc).__name__
            turn.latency_ms = (time.perf_counter() - start) * 1000
            turns.append(turn)
            if progress:
                progress()
        return turns

    with ThreadPoolExecutor(config.concurrency) as pool:
        return [turn for turns in pool.map(conversation, jobs) for turn in turns]


def target_model(config: Config, target: Target) -> str:
    """The model a target runs (read from the assistant for Assistants targets), for pricing."""
    if target.kind == "responses":
        return str(target.settings.get("model"))
    client = openai.OpenAI(base_url=target.base_url, api_key=target.api_key or "sk-none", max_retries=config.max_retries)
    return client.beta.assistants.retrieve(target.assistant_id or "").model
