"""`onward migrate import` of every format, then both faces of a live server over the SDK."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from .conftest import onward

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
EXPORTS = Path(__file__).parent / "exports"


def test_every_format_lands_on_both_faces(fresh_db, serve):
    out = onward("migrate", "import", str(EXPORTS), "--db", fresh_db)
    report = out.stderr
    for bad in ("app_messages.jsonl:5: not valid JSON", "app_messages.jsonl:6: role must be user or assistant", "app_messages.jsonl:9: no thread_id",
                "app_messages.jsonl:10: created_at 'last tuesday'", "app_messages.csv:6: role must be user or assistant"):
        assert bad in report.replace("\n", " ").replace("  ", " ") or bad in report, bad
    _check_token_totals(fresh_db, "thread_pg1")
    client = serve(fresh_db).client()

    # a raw v2 page (newest first in the file) comes back in created_at order, every field kept
    page = json.loads((EXPORTS / "page_v2_messages.json").read_text())["data"]
    listed = client.beta.threads.messages.list("thread_pg1", order="asc")
    assert [m.id for m in listed.data] == ["msg_pg1u1", "msg_pg1a1", "msg_pg1u2", "msg_pg1a2"]
    for got in listed.data:
        want = next(m for m in page if m["id"] == got.id)
        assert got.model_dump(mode="json", exclude={"completed_at"}) == {k: v for k, v in want.items() if k != "completed_at"}
    thread = client.beta.threads.retrieve("thread_pg1")
    assert thread.metadata == {"user": "u42"} and thread.tool_resources.file_search.vector_store_ids == ["vs_thread_pg1"]

    # the same thread is a conversation: citations in the Responses form, tool calls as items
    items = list(client.conversations.items.list("thread_pg1", order="asc"))
    kinds = [(i.type, getattr(i, "role", None)) for i in items]
    assert kinds == [
        ("message", "user"), ("message", "assistant"), ("message", "user"),
        ("function_call", None), ("function_call_output", None), ("message", "assistant"),
        ("function_call", None), ("function_call_output", None),
    ]
    answer = items[1].content[0]
    assert answer.text == "Employees get 25 vacation days per year." and answer.annotations[0].file_id == "file-handbook"
    assert answer.annotations[0].index == len("Employees get 25 vacation days per year")
    assert items[3].call_id == "call_w1" and json.loads(items[4].output) == {"temp": "22C", "sky": "sunny"}
    assert items[6].call_id == "call_dead1" and "no output" in items[7].output  # closed, so the thread can go on

    runs = {r.id: r for r in client.beta.threads.runs.list("thread_pg1")}
    assert runs["run_pg1b"].usage.prompt_tokens == 812 and runs["run_pg1c"].status == "expired"
    steps = client.beta.threads.runs.steps.list("run_pg1b", thread_id="thread_pg1", order="asc")
    assert [s.id for s in steps.data] == ["step_pg1b1", "step_pg1b2"]
    assert steps.data[0].step_details.tool_calls[0].function.output == '{"temp": "22C", "sky": "sunny"}'
    hr = client.beta.assistants.retrieve("asst_hr")
    assert hr.model == "gpt-4-turbo" and hr.tool_resources.file_search.vector_store_ids == ["vs_handbook"]
    assert [t.type for t in client.beta.assistants.retrieve("asst_v1").tools] == ["file_search"]

    # JSON Lines: ISO dates, milliseconds, image parts, derived ids; CSV: quoted newlines, JSON cells
    app1 = client.beta.threads.messages.list("thread_app1", order="asc").data
    assert [m.role for m in app1] == ["user", "assistant", "user", "assistant"]
    assert app1[0].created_at == 1740910500 and app1[0].metadata == {"channel": "web"}
    assert app1[1].assistant_id == "asst_support" and app1[1].run_id == "run_app1"
    assert app1[2].content[1].type == "image_file" and app1[2].content[1].image_file.file_id == "file-receipt1"
    assert app1[3].created_at == 1740910565 and app1[3].id.startswith("msg_")
    csv1 = client.beta.threads.messages.list("thread_csv1", order="asc").data
    assert csv1[0].content[0].text.value == "Can you summarise\nthis two-line question?" and csv1[0].metadata == {"source": "email"}
    assert [m.role for m in client.beta.threads.messages.list("thread_app2", order="asc").data] == ["user", "assistant"]
    v1 = client.beta.threads.messages.list("thread_v1", order="asc").data
    assert v1[0].attachments[0].file_id == "file-report"
    nested = client.beta.threads.messages.list("thread_dump2", order="asc").data
    assert [m.role for m in nested] == ["user", "assistant"]

    # both faces continue the imported history: a response on the thread, then a run on it
    resp = client.responses.create(model="scripted", conversation="thread_app2", input="and on Sunday?")
    assert resp.status == "completed"
    assert client.beta.threads.messages.list("thread_app2", order="asc").data[-1].content[0].text.value == resp.output_text
    run = client.beta.threads.runs.create_and_poll(thread_id="thread_pg1", assistant_id="asst_hr", model="scripted")
    assert run.status == "completed", run.last_error


def _check_token_totals(url: str, thread_id: str) -> None:
    """Imported items carry the token estimates and running totals the server's own writes do
    (a model request reads the thread from its tail by them)."""
    import sqlalchemy as sa

    from onward.store.items import estimate_tokens

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT data, tokens, total_tokens FROM conversation_items WHERE conversation_id = :t ORDER BY position"), {"t": thread_id}).all()
            total = conn.execute(sa.text("SELECT total_tokens FROM conversations WHERE id = :t"), {"t": thread_id}).scalar()
    finally:
        engine.dispose()
    running = 0
    for data, tokens, total_tokens in rows:
        running += estimate_tokens(data)
        assert (tokens, total_tokens) == (estimate_tokens(data), running)
    assert rows and total == running


def test_reimport_adds_nothing_and_dry_run_changes_nothing(tmp_path, serve):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    dry = onward("migrate", "import", str(EXPORTS / "app_messages.jsonl"), "--db", db, "--dry-run")
    assert "dry run" in dry.stderr and "would add" in dry.stderr
    onward("migrate", "import", str(EXPORTS / "page_v2_messages.json"), "--db", db, "--dry-run")
    first = onward("migrate", "import", str(EXPORTS / "app_messages.jsonl"), "--db", db)
    again = onward("migrate", "import", str(EXPORTS / "app_messages.jsonl"), str(EXPORTS / "app_messages.csv"), "--db", db)
    client = serve(db).client()
    assert len(client.beta.threads.messages.list("thread_app1").data) == 4
    assert len(client.beta.threads.messages.list("thread_csv1").data) == 3
    assert "6 new" in first.stderr.replace("\n", " ") or "2 new" in first.stderr
    with pytest.raises(openai.NotFoundError):  # the dry run of the page wrote nothing
        client.beta.threads.retrieve("thread_pg1")
    assert "already there" in again.stderr


def test_import_to_a_conversations_api(tmp_path, serve):
    """--to: the backfill through POST /v1/conversations and /items, 20 items per call."""
    target = serve(f"sqlite:///{tmp_path / 'remote.db'}")
    rows = tmp_path / "long.jsonl"
    with rows.open("w") as fh:
        for i in range(45):
            fh.write(json.dumps({"thread_id": "thread_long", "role": "user" if i % 2 == 0 else "assistant", "text": f"message {i}", "created_at": 1700000000 + i}) + "\n")
    mapping = tmp_path / "map.json"
    onward("migrate", "import", str(rows), str(EXPORTS / "page_v2_messages.json"), str(EXPORTS / "page_steps.json"), "--to", target.url, "--api-key", "sk-test", "--mapping", str(mapping))
    ids = json.loads(mapping.read_text())
    assert set(ids) == {"thread_long", "thread_pg1"} and ids["thread_long"]["items"] == 45
    client = target.client()
    conv = ids["thread_long"]["conversation_id"]
    items = list(client.conversations.items.list(conv, order="asc", limit=100))
    assert [i.content[0].text for i in items] == [f"message {i}" for i in range(45)]
    assert client.conversations.retrieve(conv).metadata["thread_id"] == "thread_long"
    pg = list(client.conversations.items.list(ids["thread_pg1"]["conversation_id"], order="asc"))
    assert [i.type for i in pg].count("function_call_output") == 2
    again = onward("migrate", "import", str(rows), "--to", target.url, "--api-key", "sk-test", "--mapping", str(mapping))
    assert "1 existing" in again.stderr.replace("\n", " ")
    assert len(list(client.conversations.items.list(conv, limit=100))) == 45
