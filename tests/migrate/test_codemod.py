"""The codemod's patterns, one before/after fixture each (tests/migrate/codemod_fixtures), the
report and the CLI's diff and --write modes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from onward.migrate.codemod import codemod_source
from tests.migrate.conftest import onward

FIXTURES = Path(__file__).parent / "codemod_fixtures"
BEFORE = sorted(FIXTURES.glob("*.before.py"))


@pytest.mark.parametrize("before", BEFORE, ids=lambda p: p.name.split(".")[0])
def test_pattern_fixture(before):
    after = before.with_name(before.name.replace(".before.", ".after."))
    out, notes = codemod_source(before.read_text(), str(before))
    assert out == after.read_text()
    assert notes and all(n.line > 0 for n in notes)
    assert codemod_source(out)[0] == out or "TODO(onward-migrate)" in out  # idempotent where done
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F", "--no-cache", "--stdin-filename", after.name, "-"], input=out, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_todo_rows_and_unchanged_code():
    source = (FIXTURES / "unsafe_todo.before.py").read_text()
    out, notes = codemod_source(source, "x.py")
    todos = [n for n in notes if n.kind == "todo"]
    assert [n.line for n in todos] == [8, 9]
    assert out.count("# TODO(onward-migrate):") == 2
    assert [line for line in out.splitlines() if "TODO" not in line] == source.splitlines()  # code left as it was


def test_files_without_assistants_calls_are_untouched():
    source = "from openai import OpenAI\nclient = OpenAI()\nclient.responses.create(model='m', input='hi')\n"
    assert codemod_source(source) == (source, [])


def test_cli_diff_write_and_report(tmp_path):
    target = tmp_path / "app.py"
    target.write_text((FIXTURES / "tool_loop.before.py").read_text())
    shown = onward("migrate", "codemod", str(target))
    assert shown.stdout.startswith(f"--- a/{target}") and "+run = client.responses.create(" in shown.stdout
    assert target.read_text() == (FIXTURES / "tool_loop.before.py").read_text()  # a diff only
    report = tmp_path / "report.json"
    onward("migrate", "codemod", str(tmp_path), "--write", "--report", str(report))
    assert target.read_text() == (FIXTURES / "tool_loop.after.py").read_text()
    data = json.loads(report.read_text())
    assert data["changed"] == 1 and {r["kind"] for r in data["rows"]} == {"rewritten"}
    (tmp_path / "broken.py").write_text("def (:\n")
    failed = onward("migrate", "codemod", str(tmp_path / "broken.py"), check=False)
    assert failed.returncode == 1 and "does not parse" in failed.stderr
    assert onward("migrate", "codemod", str(tmp_path / "nope.py"), check=False).returncode == 2


def test_status_loop_answering_tools_is_flagged_and_rows_name_input_lines():
    # A team's polling helper: the loop ends on a terminal status and answers requires_action
    # inside. A response with function calls left is `completed`, so the rewritten loop would
    # fall through without answering them: a TODO, on the loop's line in the input file, even
    # though the assistant pass before it shrank the file.
    source = """from openai import OpenAI

client = OpenAI()
assistant = client.beta.assistants.create(
    model="gpt-4o-mini",
    tools=[
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}},
    ],
)
thread = client.beta.threads.create()
run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
while run.status not in ("completed", "failed"):
    if run.status == "requires_action":
        outputs = [{"tool_call_id": c.id, "output": "x"} for c in run.required_action.submit_tool_outputs.tool_calls]
        run = client.beta.threads.runs.submit_tool_outputs(thread_id=thread.id, run_id=run.id, tool_outputs=outputs)
    else:
        run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
"""
    out, notes = codemod_source(source, "x.py")
    lines = source.splitlines()
    loop = [n for n in notes if n.kind == "todo" and "loop while function_call items remain" in n.message]
    assert [n.line for n in loop] == [12] and lines[11].startswith("while run.status not in")
    assert "# TODO(onward-migrate): this loop tests the run status" in out
    thread_rows = [n.line for n in notes if n.message == "threads.create → conversations.create"]
    assert thread_rows == [10] and "beta.threads.create" in lines[9]
