"""Export from a live Onward through the Assistants API, import into a fresh database, and
compare every object field by field through the SDK on both faces."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import onward

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _history(client, thread_id):
    """Every object of a thread as the API returns it."""
    messages = [m.model_dump(mode="json") for m in client.beta.threads.messages.list(thread_id, order="asc", limit=100)]
    runs = [r.model_dump(mode="json") for r in client.beta.threads.runs.list(thread_id, order="asc", limit=100)]
    steps = {r["id"]: [s.model_dump(mode="json") for s in client.beta.threads.runs.steps.list(r["id"], thread_id=thread_id, order="asc")] for r in runs}
    return {"thread": client.beta.threads.retrieve(thread_id).model_dump(mode="json"), "messages": messages, "runs": runs, "steps": steps}


def test_export_then_import_keeps_every_field(tmp_path, fresh_db, serve):
    source = serve(f"sqlite:///{tmp_path / 'source.db'}", "source")
    client = source.client()
    report = client.files.create(file=("report.txt", b"Report: it is 22C in Paris today."), purpose="assistants")
    image = client.files.create(file=("chart.png", b"\x89PNG\r\n\x1a\n fake"), purpose="vision")
    asst = client.beta.assistants.create(
        model="scripted", name="Trip helper", instructions="Help with trips.", tools=[{"type": "file_search"}, WEATHER],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [report.id]}]}}, metadata={"team": "travel"},
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
    )
    # a function call answered through submit_tool_outputs
    t1 = client.beta.threads.create(messages=[{"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?"}, {"type": "image_file", "image_file": {"file_id": image.id}}]}], metadata={"user": "u1"})
    run = client.beta.threads.runs.create_and_poll(thread_id=t1.id, assistant_id=asst.id, response_format="auto")
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(thread_id=t1.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "22C"}])
    assert run.status == "completed", run.last_error
    # file_search with an attachment and citations
    t2 = client.beta.threads.create(messages=[{"role": "user", "content": "What does the report say about Paris?", "attachments": [{"file_id": report.id, "tools": [{"type": "file_search"}]}]}])
    run2 = client.beta.threads.runs.create_and_poll(thread_id=t2.id, assistant_id=asst.id, tool_choice={"type": "file_search"}, response_format="auto")
    assert run2.status == "completed", run2.last_error
    before = {t: _history(client, t) for t in (t1.id, t2.id)}
    assert before[t2.id]["messages"][-1]["content"][0]["text"]["annotations"], "the run should have cited the file"

    ids = tmp_path / "threads.txt"
    ids.write_text(f"{t1.id}\n# a comment\n{t2.id}\nthread_doesnotexist\n")
    out = tmp_path / "export"
    exported = onward("migrate", "export", "--base-url", source.url, "--api-key", "sk-test", "--threads", str(ids), "--out", str(out))
    assert "thread_doesnotexist" in exported.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["threads"] == {t1.id: "done", t2.id: "done", "thread_doesnotexist": "missing"}
    assert json.loads((out / "assistants.jsonl").read_text().splitlines()[0])["id"] == asst.id
    again = onward("migrate", "export", "--base-url", source.url, "--api-key", "sk-test", "--threads", str(ids), "--out", str(out))
    assert re.search(r"threads skipped\s*│\s*2\b", again.stderr), again.stderr  # resumed: both threads already done

    onward("migrate", "import", str(out), "--db", fresh_db)
    target = serve(fresh_db, "target").client()
    for thread_id, want in before.items():
        assert _history(target, thread_id) == want
    assert target.beta.assistants.retrieve(asst.id).model_dump(mode="json") == client.beta.assistants.retrieve(asst.id).model_dump(mode="json")
    # the Responses face of the imported thread: call and output pair, then the answer
    kinds = [i.type for i in target.conversations.items.list(t1.id, order="asc")]
    assert kinds == ["message", "function_call", "function_call_output", "message"]

    converted = json.loads(onward("migrate", "convert", "--from", str(out)).stdout)
    assert converted[0]["assistant_id"] == asst.id
    settings = converted[0]["settings"]
    assert settings["text"] == {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    vs_ids = before[t1.id]["thread"]["tool_resources"]  # noqa: F841 (threads keep their own)
    assert settings["tools"][0]["type"] == "file_search" and settings["tools"][0]["vector_store_ids"] == asst.tool_resources.file_search.vector_store_ids
    assert settings["tools"][1] == {"type": "function", "name": "get_weather", "description": "Weather in a city", "parameters": WEATHER["function"]["parameters"], "strict": False}
    resp = client.responses.create(input="What is the weather in Paris?", **{**settings, "model": "scripted", "text": None})
    assert resp.output[0].type == "function_call"  # the settings run as they are

    audit = json.loads(onward("migrate", "audit", "--base-url", source.url, "--api-key", "sk-test", "--threads", str(ids), "--json").stdout)
    (row,) = audit["assistants"]
    assert row["vector_stores"][0]["files"] == 1 and row["vector_stores"][0]["bytes"] > 0
    assert any("file_search" in f for f in row["flags"]) and any("json_schema" in f for f in row["flags"])
    counts = {t["id"]: (t["messages"], t["runs"]) for t in audit["threads"]}
    assert counts[t1.id] == (2, 1) and counts["thread_doesnotexist"] == (0, 0)
