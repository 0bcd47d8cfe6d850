"""A response's output rebuilt from its stored stream events: what a crashed worker had
produced (and sent) is kept, its unfinished items marked `incomplete`, rather than lost."""

from __future__ import annotations

from typing import Any

import orjson


def partial_output(events: list[str]) -> list[dict[str, Any]]:
    """Output items as the stored events (JSON strings, in sequence order) left them.

    Finished items are taken whole from `response.output_item.done`; unfinished ones are
    rebuilt from `output_item.added` + `content_part.added` + text / argument deltas, with
    status `incomplete`."""
    items: dict[int, dict[str, Any]] = {}
    done: set[int] = set()
    for data in events:
        event = orjson.loads(data)
        kind = event.get("type")
        index = event.get("output_index")
        if kind == "response.output_item.added":
            items[index] = dict(event["item"], content=[]) if event["item"].get("type") == "message" else dict(event["item"])
        elif kind == "response.output_item.done":
            items[index] = event["item"]
            done.add(index)
        elif index in items and index not in done:
            item = items[index]
            if kind == "response.content_part.added":
                item["content"].append(dict(event["part"]))
            elif kind == "response.output_text.delta" and event.get("content_index", 0) < len(item.get("content", [])):
                part = item["content"][event.get("content_index", 0)]
                part["text"] = part.get("text", "") + event["delta"]
            elif kind == "response.function_call_arguments.delta":
                item["arguments"] = item.get("arguments", "") + event["delta"]
    for index, item in items.items():
        if index not in done:
            item["status"] = "incomplete"
    return [items[i] for i in sorted(items)]
