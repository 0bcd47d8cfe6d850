"""Every snippet in README.md and docs/*.md runs as written against `onward serve` with no
models file, the way `./dev serve` runs on a fresh machine (issue 7, item 9).

The rules, so that snippets other people add are covered too:
- ```python and ```bash (sh, shell) blocks run; ```toml blocks must parse. A document's python
  blocks run top to bottom in one interpreter, as a reader pastes them into one session, so a
  block may use what an earlier block of the same document defined (`client`). Bash blocks run
  one by one with `bash -euo pipefail`.
- A block that cannot run here (it starts a server, needs an upstream, S3, several machines)
  carries a visible marker on the line before its fence: `<!-- not-run: why -->`. The test
  reports how many blocks were skipped and why, and fails on a marker without a reason.
- Snippets hard-code http://127.0.0.1:8000 (what `./dev serve` listens on). The test rewrites
  that address to a server on a free port instead of taking port 8000, which a developer's own
  `./dev serve` may hold; `OPENAI_BASE_URL` and `OPENAI_API_KEY` are set as well, for snippets
  that build `OpenAI()` with no arguments.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, Server

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash", "toml": "toml"}
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)[^\n]*$")
NOT_RUN = re.compile(r"<!--\s*not-run\s*(?::\s*(?P<why>.*?))?\s*-->")
ADDRESS = ("127.0.0.1:8000", "localhost:8000")
TIMEOUT = 300  # seconds for one document's python blocks (the embedded model is slow-ish)


@dataclass
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str  # python | bash | toml
    code: str
    not_run: str | None  # the marker's reason ("" if the marker gives none)

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def blocks(doc: Path) -> list[Block]:
    """The fenced blocks of one Markdown file in a language this test knows."""
    out: list[Block] = []
    lines = doc.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m.group("fence"), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        lang = RUN.get(m.group("lang").lower())
        if lang is None:
            continue
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = NOT_RUN.search(previous)
        out.append(Block(doc, start + 1, lang, textwrap.dedent("\n".join(body)) + "\n", (marker.group("why") or "") if marker else None))
    return out


ALL = [b for doc in DOCS for b in blocks(doc)]
SKIPPED: Counter[str] = Counter()


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory, request):
    """`onward serve` with no models file and its default SQLite database."""
    tmp = tmp_path_factory.mktemp("docs")
    srv = Server(tmp, f"sqlite:///{tmp / 'onward.db'}", None, env={"ONWARD_MODELS_FILE": ""}).start()
    yield srv
    srv.stop()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and SKIPPED:
        with capture.global_and_fixture_disabled():  # shown even when the tests pass
            reporter.write_line(f"\ndocs snippets not run ({sum(SKIPPED.values())}, marked <!-- not-run: why -->):")
            for why, n in sorted(SKIPPED.items()):
                reporter.write_line(f"  {n} x {why}")


def local(code: str, srv: Server) -> str:
    for address in ADDRESS:
        code = code.replace(address, f"127.0.0.1:{srv.port}")
    return code


def env_for(srv: Server, tmp: Path) -> dict[str, str]:
    # `onward` and `python` as a reader's activated environment has them
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "OPENAI_BASE_URL": srv.url, "OPENAI_API_KEY": "anything", "PATH": path}
    env.pop("PYTHONWARNINGS", None)
    return env


def test_every_marker_gives_a_reason():
    bad = [b.where for b in ALL if b.not_run == ""]
    assert not bad, f"<!-- not-run: … --> needs a reason: {bad}"
    assert any(b.lang == "python" and b.not_run is None for b in ALL)  # the extraction finds snippets


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == "toml"], ids=lambda b: b.where)
def test_toml_snippet_parses(block: Block):
    if block.not_run is not None:
        SKIPPED[block.not_run] += 1
        pytest.skip(block.not_run)
    tomllib.loads(block.code)


@pytest.mark.parametrize("doc", [d for d in DOCS if any(b.lang == "python" for b in blocks(d))], ids=lambda d: d.name)
def test_python_snippets_run(doc: Path, newcomer: Server, tmp_path: Path):
    todo = [b for b in blocks(doc) if b.lang == "python"]
    for b in todo:
        if b.not_run is not None:
            SKIPPED[b.not_run] += 1
    runnable = [(b.where, local(b.code, newcomer)) for b in todo if b.not_run is None]
    if not runnable:
        pytest.skip("every python block is marked not-run")
    # One interpreter per document: each block is compiled under its own file:line name, so a
    # failure's traceback points into the Markdown.
    runner = textwrap.dedent(
        """
        import json, sys, time
        blocks = json.load(open(sys.argv[1]))
        ns = {"__name__": "__main__"}
        for where, code in blocks:
            print(f"--- {where}", flush=True)
            start = time.perf_counter()
            exec(compile(code, where, "exec"), ns)
            print(f"--- {where} ran in {time.perf_counter() - start:.1f}s", flush=True)
        """
    )
    import json

    (tmp_path / "blocks.json").write_text(json.dumps(runnable))
    proc = subprocess.run(
        [sys.executable, "-c", runner, str(tmp_path / "blocks.json")],
        cwd=tmp_path,
        env=env_for(newcomer, tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, f"{doc.name}: a snippet failed\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
    for where, _ in runnable:
        assert f"--- {where} ran in" in proc.stdout
    print(proc.stdout)  # what the snippets printed, with each block's time (pytest -s shows it)


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == "bash"], ids=lambda b: b.where)
def test_shell_snippet_runs(block: Block, newcomer: Server, tmp_path: Path):
    if block.not_run is not None:
        SKIPPED[block.not_run] += 1
        pytest.skip(block.not_run)
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", local(block.code, newcomer)],
        cwd=tmp_path,
        env=env_for(newcomer, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"{block.where}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
