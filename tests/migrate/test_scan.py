"""The scanner against a corpus of Assistants programs whose expected findings are marked
in the code (see corpus/README.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from onward.migrate.scan import scan, scan_file, source_files

CORPUS = Path(__file__).parent / "corpus"
MARKER = re.compile(r"(?:#|//) expect: (.*)$")


def expected(path: Path) -> dict[tuple[int, str], set[str]]:
    out: dict[tuple[int, str], set[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        found = MARKER.search(line)
        if not found:
            continue
        for entry in found.group(1).split(";"):
            api, _, flags = entry.strip().partition(" ")
            out[(number, api)] = {f.strip() for f in flags.strip("[] ").split(",") if f.strip()}
    return out


CORPUS_FILES = sorted(source_files([CORPUS]))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file(path: Path) -> None:
    want = expected(path)
    got = {(f.line, f.api): f for f in scan_file(path)}
    assert sorted(got) == sorted(want), "call sites differ from the markers"
    for key, flags in want.items():
        assert flags <= set(got[key].flags), f"line {key[0]} {key[1]}: flags {got[key].flags}, expected at least {sorted(flags)}"
        assert got[key].replacement


def test_every_finding_names_its_replacement_and_models() -> None:
    result = scan([CORPUS])
    assert result.errors == []
    assert result.files_scanned == len(CORPUS_FILES)
    quick = [f for f in result.findings if f.path.endswith("python/quickstart.py") and f.api == "beta.assistants.create"][0]
    assert quick.notes and "gpt-4-turbo-preview" in quick.notes[0] and "2026-10-23" in quick.notes[0]
    runs = [f for f in result.findings if f.api == "beta.threads.runs.create_and_poll"][0]
    assert "responses.create" in runs.replacement
    ts_runs = [f for f in result.findings if f.api == "beta.threads.runs.createAndPoll"][0]
    assert ts_runs.language == "typescript" and "responses.create" in ts_runs.replacement
    moved = [f for f in result.findings if f.api == "beta.vectorStores.create"][0]
    assert moved.replacement.startswith("vectorStores.create")


def test_unparseable_python_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n    client.beta.threads.create()\n")
    (tmp_path / "ok.py").write_text("from openai import OpenAI\nc = OpenAI()\nc.beta.threads.create()\n")
    result = scan([tmp_path])
    assert [f.api for f in result.findings] == ["beta.threads.create"]
    assert len(result.errors) == 1 and "broken.py" in result.errors[0]


def test_cli_json_table_and_markdown(tmp_path: Path) -> None:
    report = tmp_path / "scan.md"
    cmd = [sys.executable, "-m", "onward.cli", "migrate", "scan", str(CORPUS / "python"), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    findings = json.loads(out.stdout)
    assert {"path", "line", "api", "replacement", "flags"} <= set(findings[0])
    assert any(f["api"] == "beta.threads.runs.retrieve" and "run_status_polling" in f["flags"] for f in findings)
    table = subprocess.run([sys.executable, "-m", "onward.cli", "migrate", "scan", str(CORPUS), "--markdown", str(report)], capture_output=True, text=True, check=True)
    assert "beta.threads.runs.create_and_poll" in table.stdout
    text = report.read_text()
    assert text.startswith("# Assistants API scan") and "| `beta.threads.create` |" in text
    empty = subprocess.run([sys.executable, "-m", "onward.cli", "migrate", "scan", str(CORPUS / "negatives"), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(empty.stdout) == []
    missing = subprocess.run([sys.executable, "-m", "onward.cli", "migrate", "scan", str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
