"""What each Assistants API call becomes on the Responses side, and which models are retired.

The mapping follows the concept table of OpenAI's Assistants → Responses migration guide
(assistant → inline settings, thread → conversation, run → responses, run step → output items,
`submit_tool_outputs` → `function_call_output` items, `beta.vector_stores` → `vector_stores`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Keyed by the SDK path after `beta.`, in Python's snake_case (TypeScript names are converted).
REPLACEMENTS: dict[str, str] = {
    "assistants.create": "Responses settings kept in code (model, instructions, tools, text.format) passed to responses.create; `onward migrate convert` writes them",
    "assistants.retrieve": "settings in your code or config (assistants are not API objects on Responses)",
    "assistants.update": "edit the settings in your code or config",
    "assistants.list": "settings in your code or config",
    "assistants.delete": "nothing to delete: settings live in your code",
    "threads": "conversations",
    "threads.create": "conversations.create",
    "threads.retrieve": "conversations.retrieve",
    "threads.update": "conversations.update",
    "threads.delete": "conversations.delete",
    "threads.create_and_run": "conversations.create + responses.create(conversation=…)",
    "threads.create_and_run_poll": "conversations.create + responses.create(conversation=…)",
    "threads.create_and_run_stream": "conversations.create + responses.stream(conversation=…)",
    "threads.messages.create": "conversations.items.create, or the input of the next responses.create(conversation=…)",
    "threads.messages.list": "conversations.items.list, or response.output_text / response.output",
    "threads.messages.retrieve": "conversations.items.retrieve",
    "threads.messages.update": "no equivalent: conversation items carry no metadata",
    "threads.messages.delete": "conversations.items.delete",
    "threads.runs.create": "responses.create(conversation=…, model=…, instructions=…, tools=…)",
    "threads.runs.create_and_poll": "responses.create(conversation=…) (it returns when the model is done; background=True to poll)",
    "threads.runs.create_and_stream": "responses.stream(conversation=…)",
    "threads.runs.stream": "responses.stream(conversation=…)",
    "threads.runs.retrieve": "a synchronous responses.create, or responses.retrieve for background=True",
    "threads.runs.poll": "a synchronous responses.create, or responses.retrieve for background=True",
    "threads.runs.list": "no equivalent: keep the response ids you need",
    "threads.runs.update": "metadata on responses.create",
    "threads.runs.cancel": "responses.cancel (background responses)",
    "threads.runs.submit_tool_outputs": "responses.create with function_call_output items (conversation=… or previous_response_id=…)",
    "threads.runs.submit_tool_outputs_and_poll": "responses.create with function_call_output items (conversation=… or previous_response_id=…)",
    "threads.runs.submit_tool_outputs_stream": "responses.stream with function_call_output items",
    "threads.runs.steps.list": "response.output items (message, function_call, file_search_call, code_interpreter_call)",
    "threads.runs.steps.retrieve": "response.output items",
    "AssistantEventHandler": "iterate responses.stream(...) events (response.output_text.delta, response.output_item.done, response.completed)",
    "usage.prompt_tokens": "usage.input_tokens",
    "usage.completion_tokens": "usage.output_tokens",
}

# Assistants stream events → the Responses events that carry the same information.
STREAM_EVENTS: dict[str, str] = {
    "thread.created": "none (create the conversation before streaming)",
    "thread.run.created": "response.created",
    "thread.run.queued": "response.queued",
    "thread.run.in_progress": "response.in_progress",
    "thread.run.requires_action": "function_call items in response.output_item.done, then response.completed",
    "thread.run.completed": "response.completed",
    "thread.run.incomplete": "response.incomplete",
    "thread.run.failed": "response.failed (and event type error)",
    "thread.run.cancelling": "none (responses.cancel answers at once)",
    "thread.run.cancelled": "response.cancelled status on response.failed/completed",
    "thread.run.expired": "none (no tool-output deadline on Responses)",
    "thread.run.step.created": "response.output_item.added",
    "thread.run.step.in_progress": "response.output_item.added",
    "thread.run.step.delta": "response.function_call_arguments.delta / response.file_search_call.*",
    "thread.run.step.completed": "response.output_item.done",
    "thread.run.step.failed": "response.failed",
    "thread.run.step.cancelled": "response.output_item.done",
    "thread.run.step.expired": "response.output_item.done",
    "thread.message.created": "response.output_item.added (message)",
    "thread.message.in_progress": "response.content_part.added",
    "thread.message.delta": "response.output_text.delta",
    "thread.message.completed": "response.output_text.done / response.output_item.done",
    "thread.message.incomplete": "response.incomplete",
}

def event_name(text: object) -> str | None:
    """The Assistants event a string literal names: `"thread.message.delta"`, or the SSE line
    forms `"event: thread.message.delta"` / `"event:thread.run.completed"` that hand-written
    parsers compare lines with."""
    if not isinstance(text, str):
        return None
    name = text.strip()
    if name.startswith("event:"):
        name = name[6:].strip()
    return name if name in STREAM_EVENTS else None


FLAGS: dict[str, str] = {
    "retired_model": "the model is shut down or being shut down: pick the replacement",
    "additional_instructions": "no equivalent: concatenate into instructions explicitly",
    "truncation_strategy": "no equivalent: truncation='auto' or compaction (the default 'disabled' answers 400 on long threads)",
    "max_prompt_tokens": "no per-run prompt budget: truncation='auto', compaction, or max_output_tokens",
    "per_tenant_assistant": "assistants created at run time have no API counterpart: keep their settings in your database or Onward",
    "run_status_polling": "a hand-written status loop: a synchronous responses.create returns when done; handle HTTP errors with retries",
    "code_interpreter": "code_interpreter moves to a tool with a container ({'type': 'code_interpreter', 'container': {'type': 'auto', 'file_ids': […]}})",
    "v1_file_ids": "Assistants v1 file_ids: use vector stores (file_search) or container file_ids (code_interpreter)",
    "v1_retrieval_tool": "the v1 'retrieval' tool is file_search with a vector store",
}


@dataclass(frozen=True)
class Retired:
    shutdown: str  # ISO date the model stops (or stopped) answering
    replacement: str


# From OpenAI's deprecations page (announcements of 2025-2026), as read on 2026-11-30. A model
# whose name starts with one of these keys is matched, longest key first.
RETIRED_MODELS: dict[str, Retired] = {
    "gpt-3.5-turbo": Retired("2026-10-23", "gpt-5.6-terra"),
    "gpt-4-32k": Retired("2025-06-06", "gpt-5.6-sol"),
    "gpt-4-vision-preview": Retired("2024-12-06", "gpt-5.6-sol"),
    "gpt-4-1106-preview": Retired("2026-10-23", "gpt-5.6-sol"),
    "gpt-4-0125-preview": Retired("2026-10-23", "gpt-5.6-sol"),
    "gpt-4-turbo": Retired("2026-10-23", "gpt-5.6-sol"),
    "gpt-4-0613": Retired("2026-10-23", "gpt-5.6-sol"),
    "gpt-4-0314": Retired("2024-06-13", "gpt-5.6-sol"),
    "gpt-4o-2024-05-13": Retired("2026-10-23", "gpt-5.6-sol"),
    "gpt-4.1-nano": Retired("2026-10-23", "gpt-5.6-luna"),
    "o1-mini": Retired("2025-10-27", "gpt-5.6-terra"),
    "o1-preview": Retired("2025-07-28", "gpt-5.6-sol"),
    "o1-pro": Retired("2026-10-23", "gpt-5.6-sol"),
    "o1-2024-12-17": Retired("2026-10-23", "gpt-5.6-sol"),
    "o3-mini": Retired("2026-10-23", "gpt-5.6-terra"),
    "o4-mini": Retired("2026-10-23", "gpt-5.6-terra"),
    "gpt-5-mini": Retired("2026-12-11", "gpt-5.6-terra"),
    "gpt-5-nano": Retired("2026-12-11", "gpt-5.6-luna"),
    "gpt-5-pro": Retired("2026-12-11", "gpt-5.6-sol"),
    "gpt-5-2025-08-07": Retired("2026-12-11", "gpt-5.6-sol"),
    "o3-pro": Retired("2026-12-11", "gpt-5.6-sol"),
    "o3-2025-04-16": Retired("2026-12-11", "gpt-5.6-sol"),
}
# Exact names (a prefix rule would catch gpt-4o, gpt-5.1, o3-deep-research…).
RETIRED_EXACT: dict[str, Retired] = {
    "gpt-4": Retired("2026-10-23", "gpt-5.6-sol"),
    "o1": Retired("2026-10-23", "gpt-5.6-sol"),
    "gpt-5": Retired("2026-12-11", "gpt-5.6-sol"),
    "o3": Retired("2026-12-11", "gpt-5.6-sol"),
}


def retired(model: str) -> Retired | None:
    """The shutdown date and replacement of a retired (or retiring) OpenAI model, else None."""
    name = model.strip().lower()
    if name in RETIRED_EXACT:
        return RETIRED_EXACT[name]
    for key in sorted(RETIRED_MODELS, key=len, reverse=True):
        if name.startswith(key):
            return RETIRED_MODELS[key]
    return None


def snake(name: str) -> str:
    """`createAndPoll` → `create_and_poll`; `vectorStores` → `vector_stores`."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel(path: str) -> str:
    """`vector_stores.file_batches.upload_and_poll` → `vectorStores.fileBatches.uploadAndPoll`."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path)


def replacement(api: str, language: str = "python") -> str:
    """The Responses-side equivalent of an Assistants API path (`beta.threads.runs.create`),
    an `sse:<event>` finding, a `usage.*` read or `AssistantEventHandler`."""
    if api.startswith("sse:"):
        return STREAM_EVENTS.get(api[4:], "a response.* event")
    key = ".".join(snake(part) for part in api.removeprefix("beta.").split("."))
    if key.startswith("vector_stores"):
        text = f"{key} (the same call outside beta)"
    else:
        text = REPLACEMENTS.get(key, "see docs/migration.md")
    if language != "python":
        # SDK method paths are camelCase in openai-node; wire fields (usage.input_tokens) are not
        text = re.sub(r"\b(?:conversations|responses|vector_stores)(?:\.[a-z_]+)+", lambda m: camel(m.group(0)), text)
    return text
