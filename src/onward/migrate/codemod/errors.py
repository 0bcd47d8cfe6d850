"""Run-status error handling → HTTP error handling (the guide's Step 5).

A run reported failure in its status (`if run.status == "failed": … run.last_error.message`); a
response whose model fails is an HTTP error raised by the SDK, which already retries 429 and 5xx
answers `max_retries` times (2 by default, settable on the client). So the statement that makes
the response is wrapped in (or its `try` gains) `except openai.APIStatusError as error:` running
the same code with the error's `code` and `message`. The status test stays: a response that
fails after some output still comes back with `status == "failed"` and `error` set.

Only when the status test directly follows the call, and its body reads nothing of the run but
`error.code`/`error.message` (after the Runs pass renamed `last_error`); otherwise a TODO.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from .base import TODO, Context, Note, Pattern, code, dotted

FAILED = ('"failed"', "'failed'")


def _response_target(stmt: cst.BaseStatement) -> str | None:
    """`X` for `X = <client>.responses.create(...)` (also as the first statement of a `try`)."""
    if isinstance(stmt, cst.Try) and stmt.body.body and not stmt.orelse and not stmt.finalbody:
        first = stmt.body.body[0]
        return _response_target(first) if isinstance(first, cst.BaseStatement) else None
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
        assign = stmt.body[0]
        func = dotted(assign.value.func) if isinstance(assign.value, cst.Call) else None
        target = assign.targets[0].target
        if func and func.endswith((".responses.create", ".responses.parse")) and len(assign.targets) == 1 and isinstance(target, cst.Name):
            return target.value
    return None


def _failed_test(stmt: cst.BaseStatement, name: str) -> bool:
    if not isinstance(stmt, cst.If) or stmt.orelse is not None or not isinstance(stmt.test, cst.Comparison):
        return False
    test = stmt.test
    return (
        len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, cst.Equal)
        and m.matches(test.left, m.Attribute(value=m.Name(name), attr=m.Name("status")))
        and code(test.comparisons[0].comparator) in FAILED
    )


def _plain_names(module: cst.Module) -> set[str]:
    """Names used as variables (not as attribute names)."""
    names: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)
            return False

        def visit_Name(self, node: cst.Name) -> None:
            names.add(node.value)

    module.visit(V())
    return names


class _ErrorOf(cst.CSTTransformer):
    """`run.error.message` → `error.message`; `raise X` → `raise X from error`."""

    def __init__(self, run: str, error: str) -> None:
        super().__init__()
        self.run, self.error = run, error

    def leave_Attribute(self, original_node, updated_node):
        if m.matches(updated_node, m.Attribute(value=m.Name(self.run), attr=m.Name("error"))):
            return cst.Name(self.error)
        return updated_node

    def leave_Raise(self, original_node, updated_node):
        # raised from inside the except clause now: chain it to the HTTP error
        if updated_node.exc is not None and updated_node.cause is None:
            return updated_node.with_changes(cause=cst.From(item=cst.Name(self.error)))
        return updated_node


class Errors(Pattern):
    name = "errors"

    def __init__(self, ctx: Context, module: cst.Module) -> None:
        super().__init__(ctx)
        self.openai_module = any(m.findall(module, m.Import(names=[m.ImportAlias(name=m.Name("openai"), asname=None)])))
        self.error = "api_error" if "error" in _plain_names(module) else "error"
        self.needs_import = False

    def _block(self, body: list, originals: list) -> list:
        out = list(body)
        same = len(originals) == len(out)
        for i in range(len(out) - 1):
            name = _response_target(out[i])
            if name is None or not _failed_test(out[i + 1], name):
                continue
            handler_body = out[i + 1].body
            reads = m.findall(handler_body, m.Name(name))
            errors = m.findall(handler_body, m.Attribute(value=m.Name(name), attr=m.Name("error")))
            fields = m.findall(handler_body, m.Attribute(value=m.Attribute(value=m.Name(name), attr=m.Name("error")), attr=m.Name()))
            if len(reads) != len(errors) or len(errors) != len(fields) or any(f.attr.value not in ("code", "message") for f in fields):  # type: ignore[attr-defined]
                message = f"a failed response is an HTTP error: wrap the call in try/except openai.APIStatusError (the client retries 429/5xx, max_retries) and read error.code/error.message there; {name}.status == 'failed' remains for failures after some output"
                self.ctx.notes.append(Note(self.ctx.path, self._line(originals[i + 1] if same else out[i + 1]), self.name, "todo", message))
                comment = cst.EmptyLine(comment=cst.Comment(TODO + message))
                out[i + 1] = out[i + 1].with_changes(leading_lines=[*out[i + 1].leading_lines, comment])
                continue
            exc = "openai.APIStatusError" if self.openai_module else "APIStatusError"
            self.needs_import = self.needs_import or not self.openai_module
            clause = cst.ExceptHandler(
                body=handler_body.visit(_ErrorOf(name, self.error)),
                type=cst.parse_expression(exc),
                name=cst.AsName(name=cst.Name(self.error)),
            )
            stmt = out[i]
            if isinstance(stmt, cst.Try):
                out[i] = stmt.with_changes(handlers=[*stmt.handlers, clause])
            else:
                out[i] = cst.Try(body=cst.IndentedBlock([stmt.with_changes(leading_lines=[])]), handlers=[clause], leading_lines=stmt.leading_lines)
            self.done(originals[i + 1] if same else handler_body, "run-status failure → except APIStatusError around the call (the client retries 429/5xx)")
        return out

    def leave_Module(self, original_node, updated_node):
        module = updated_node.with_changes(body=self._block(list(updated_node.body), list(original_node.body)))
        if self.needs_import:
            module = module.visit(_AddImport("APIStatusError"))
        return module

    def leave_IndentedBlock(self, original_node, updated_node):
        return updated_node.with_changes(body=self._block(list(updated_node.body), list(original_node.body)))


class _AddImport(cst.CSTTransformer):
    """Add a name to the first `from openai import …` (or a new import at the top)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.added = False

    def leave_ImportFrom(self, original_node, updated_node):
        if self.added or not m.matches(updated_node.module, m.Name("openai")) or isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        self.added = True
        names = [n.with_changes(comma=cst.MaybeSentinel.DEFAULT) for n in updated_node.names]
        at = next((i for i, n in enumerate(names) if code(n.name) > self.name), len(names))  # keep a sorted import sorted
        names.insert(at, cst.ImportAlias(name=cst.Name(self.name)))
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        return updated_node.with_changes(names=[n.with_changes(comma=comma) for n in names[:-1]] + [names[-1]])

    def leave_Module(self, original_node, updated_node):
        if self.added:
            return updated_node
        return updated_node.with_changes(body=[cst.parse_statement(f"from openai import {self.name}\n"), *updated_node.body])
