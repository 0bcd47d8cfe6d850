"""`onward migrate codemod`: Assistants API programs → Responses API programs (Python, libcst).

Passes run in order over one file, each a transformer for one pattern family: assistant
creation → settings in code; threads/messages → conversations; event handlers and
`runs.stream` → `responses.stream`; runs, tool loops, usage and errors → responses. What a pass
cannot prove safe it leaves as it was, with a `# TODO(onward-migrate): …` comment and a report
row (`Note.kind == "todo"`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper

from .assistants import Assistants, module_dicts
from .base import Context, Note
from .errors import Errors
from .runs import Runs
from .streaming import Streaming
from .threads import Threads
from .turns import Turns

__all__ = ["FileResult", "Note", "codemod", "codemod_source", "diff"]


@dataclass
class FileResult:
    path: str
    before: str
    after: str
    notes: list[Note] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _names_used(module: cst.Module) -> set[str]:
    used: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Name(self, node: cst.Name) -> None:
            used.add(node.value)

    module.visit(V())
    return used


class _DropImports(cst.CSTTransformer):
    """Remove `from openai import X` names that a pass made unused (no F401 left behind)."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def leave_ImportFrom(self, original_node, updated_node):
        if isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        kept = [a for a in updated_node.names if not (isinstance(a.name, cst.Name) and a.name.value in self.names and a.asname is None)]
        if len(kept) == len(updated_node.names):
            return updated_node
        if not kept:
            return cst.RemoveFromParent()
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=kept)

    def leave_SimpleStatementLine(self, original_node, updated_node):
        return updated_node if updated_node.body else cst.RemoveFromParent()


def _input_line(source: str, current: str, line: int) -> int:
    """Line `line` (1-based) of `current`, an earlier pass's output, as a line of `source` (the
    input file): lines left alone map one to one; a line inside a rewritten block maps to the
    same offset in the block it replaced (its last line at most)."""
    opcodes = difflib.SequenceMatcher(None, source.splitlines(), current.splitlines(), autojunk=False).get_opcodes()
    for _tag, i1, i2, j1, j2 in opcodes:
        if j1 <= line - 1 < j2 or (j1 == j2 == line - 1):
            return i1 + min(line - 1 - j1, max(i2 - i1 - 1, 0)) + 1
    return line


def codemod_source(source: str, path: str = "<string>") -> tuple[str, list[Note]]:
    """(rewritten source, report rows) for one Python file. Raises libcst.ParserSyntaxError."""
    module = cst.parse_module(source)
    if ".beta." not in source and "AssistantEventHandler" not in source:
        return source, []
    ctx = Context(path)
    passes = [
        lambda: Turns(ctx),
        lambda: Assistants(ctx, module_dicts(module)),
        lambda: Threads(ctx),
        lambda: Streaming(ctx, module),
        lambda: Runs(ctx),
        lambda: Errors(ctx, module),
    ]
    for make in passes:
        seen, current = len(ctx.notes), module.code
        module = MetadataWrapper(module).visit(make())
        if current != source:  # this pass read an earlier pass's output: its lines, not the input's
            for note in ctx.notes[seen:]:
                note.line = _input_line(source, current, note.line)
    if ctx.removed_imports:
        unused = ctx.removed_imports - _names_used(module)
        if unused:
            module = module.visit(_DropImports(unused))
    return module.code, ctx.notes


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if not any(part.startswith(".") or part in ("node_modules", "__pycache__") for part in p.parts))
        else:
            yield path


def codemod(paths: Iterable[Path]) -> list[FileResult]:
    """Every Python file under `paths`, rewritten in memory (nothing written)."""
    results = []
    for path in _files(paths):
        before = path.read_text()
        try:
            after, notes = codemod_source(before, str(path))
        except cst.ParserSyntaxError as exc:
            results.append(FileResult(str(path), before, before, error=f"does not parse: {exc.message}"))
            continue
        results.append(FileResult(str(path), before, after, notes))
    return results


def diff(result: FileResult) -> str:
    """A unified diff of one file (empty when unchanged)."""
    return "".join(difflib.unified_diff(result.before.splitlines(True), result.after.splitlines(True), f"a/{result.path}", f"b/{result.path}"))
