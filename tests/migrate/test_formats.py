"""Format readers on shapes teams wrote by hand (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path

from onward.migrate.importers import stage


def test_an_apps_own_dump_without_object_keys(tmp_path: Path):
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({
        "assistants": [{"id": "asst_x", "model": "gpt-4o", "created_at": 1700000000, "tools": []}],
        "threads": [{"id": "thread_dump1", "metadata": {"k": "v"}, "messages": [
            {"role": "user", "content": "dumped hi", "created_at": 1740910500},
            {"role": "assistant", "content": "dumped hello", "created_at": "2025-03-02T10:15:01Z"},
        ]}],
    }))
    errors: list[str] = []
    staging = stage([dump], errors, [])
    assert errors == []
    assert staging.counts() == {"assistant": 1, "thread": 1, "message": 2}
    assert [m["content"][0]["text"]["value"] for _, m in staging.timeline("thread_dump1")] == ["dumped hi", "dumped hello"]
    assert staging.thread("thread_dump1")["metadata"] == {"k": "v"}
    staging.close()


def test_timeline_puts_a_runs_tool_calls_before_its_answer(tmp_path: Path):
    rows = [
        {"object": "thread.message", "id": "msg_u", "thread_id": "t", "role": "user", "content": "q", "created_at": 100},
        {"object": "thread.message", "id": "msg_a", "thread_id": "t", "role": "assistant", "content": "a", "created_at": 100, "run_id": "run_1"},
        {"object": "thread.message", "id": "msg_u2", "thread_id": "t", "role": "user", "content": "q2", "created_at": 100},
        {"object": "thread.run.step", "id": "step_1", "thread_id": "t", "run_id": "run_1", "created_at": 100, "step_details": {"type": "tool_calls", "tool_calls": []}},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    staging = stage([path], [], [])
    assert [b["id"] for _, b in staging.timeline("t")] == ["msg_u", "step_1", "msg_a", "msg_u2"]
    staging.close()
