"""What every codemod pattern shares: reading `<client>.beta.<api>` chains, building calls, and
leaving `# TODO(onward-migrate): …` comments with a report row where a rewrite is not safe."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import PositionProvider

TODO = "# TODO(onward-migrate): "


@dataclass
class Note:
    """One report row: `kind` is "rewritten" or "todo"; `line` is 1-based in the input file."""

    path: str
    line: int
    pattern: str
    kind: str
    message: str


@dataclass
class Context:
    """What the passes learn about one file and pass on to the next ones."""

    path: str
    notes: list[Note] = field(default_factory=list)
    settings_vars: set[str] = field(default_factory=set)  # names now holding Responses settings dicts
    settings_exprs: list[str] = field(default_factory=list)  # `**expr` spreads used for runs, in order
    assistants_converted: bool = False
    assistant_sources: bool = False  # assistants.retrieve/list: ids that are not ours
    chat_completions: bool = False
    removed_imports: set[str] = field(default_factory=set)
    parse_settings: set[str] = field(default_factory=set)  # settings dicts with text_format (a pydantic model): run with responses.parse
    thread_stores: dict[str, str] = field(default_factory=dict)  # `thread.id` → the name of its attachments' vector store


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a chain of names, None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head is not None else None
    return None


def beta_api(func: cst.BaseExpression) -> tuple[cst.BaseExpression, str] | None:
    """(client expression, `threads.runs.create`) for `<client>.beta.threads.runs.create`."""
    parts: list[str] = []
    node = func
    while isinstance(node, cst.Attribute):
        if node.attr.value == "beta":
            return node.value, ".".join(reversed(parts))
        parts.append(node.attr.value)
        node = node.value
    return None


def attr_chain(receiver: cst.BaseExpression, path: str) -> cst.BaseExpression:
    """`receiver.a.b` from `"a.b"`."""
    node = receiver
    for part in path.split("."):
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def arg(call: cst.Call, name: str, position: int | None = None) -> cst.Arg | None:
    """The argument given as keyword `name` or at `position`."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a
    if position is not None:
        plain = [a for a in call.args if a.keyword is None and not a.star]
        if len(plain) > position:
            return plain[position]
    return None


def kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(keyword=cst.Name(name), value=value, equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))


def star(value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value=value, star="**")


def others(call: cst.Call, *used: str, positional: int = 0) -> list[cst.Arg]:
    """The keyword arguments of `call` not in `used` (and no positional ones below `positional`)."""
    out = []
    plain = 0
    for a in call.args:
        if a.keyword is None and not a.star:
            plain += 1
            if plain <= positional:
                continue
        if a.keyword is not None and a.keyword.value in used:
            continue
        out.append(a.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    return out


def code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def expr(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


class Pattern(cst.CSTTransformer):
    """A transformer for one pattern family. `todo()` attaches a comment to the statement being
    visited and records a report row; `done()` records a rewrite."""

    METADATA_DEPENDENCIES = (PositionProvider,)
    name = "pattern"

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self._pending: list[list[str]] = []

    def _line(self, node: cst.CSTNode) -> int:
        try:
            return self.get_metadata(PositionProvider, node).start.line
        except KeyError:
            return 0

    def todo(self, node: cst.CSTNode, message: str) -> None:
        self.ctx.notes.append(Note(self.ctx.path, self._line(node), self.name, "todo", message))
        if self._pending:
            self._pending[-1].append(message)

    def done(self, node: cst.CSTNode, message: str) -> None:
        self.ctx.notes.append(Note(self.ctx.path, self._line(node), self.name, "rewritten", message))

    def _push(self) -> None:
        self._pending.append([])

    def _pop(self, node):
        messages = self._pending.pop()
        if not messages or not hasattr(node, "leading_lines"):
            return node
        lines = [cst.EmptyLine(comment=cst.Comment(TODO + m)) for m in dict.fromkeys(messages)]
        return node.with_changes(leading_lines=[*node.leading_lines, *lines])

    def visit_SimpleStatementLine(self, node):
        self._push()

    def leave_SimpleStatementLine(self, original_node, updated_node):
        return self._pop(updated_node)

    # Compound statements get the comment on their header line.
    def visit_If(self, node):
        self._push()

    def leave_If(self, original_node, updated_node):
        return self._pop(updated_node)

    def visit_For(self, node):
        self._push()

    def leave_For(self, original_node, updated_node):
        return self._pop(updated_node)

    def visit_While(self, node):
        self._push()

    def leave_While(self, original_node, updated_node):
        return self._pop(updated_node)

    def visit_With(self, node):
        self._push()

    def leave_With(self, original_node, updated_node):
        return self._pop(updated_node)

    def visit_ClassDef(self, node):
        self._push()

    def leave_ClassDef(self, original_node, updated_node):
        return self._pop(updated_node)

    def visit_FunctionDef(self, node):
        self._push()

    def leave_FunctionDef(self, original_node, updated_node):
        return self._pop(updated_node)
