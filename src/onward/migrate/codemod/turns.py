"""A new user message followed by a run on the same thread → the run's `additional_messages`
(an Assistants-side refactor with the same meaning), so the Runs pass can make them the
response's `input`. Only when no statement in between touches the thread."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from .base import Pattern, arg, beta_api, code, dotted, kw, others

RUN_APIS = ("threads.runs.create", "threads.runs.create_and_poll", "threads.runs.stream", "threads.runs.create_and_stream")


def _calls(stmt: cst.BaseStatement) -> list[cst.Call]:
    """The call a statement makes at its top: `x = call(...)`, `call(...)`, `with call(...) as s:`."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        small = stmt.body[0]
        value = small.value if isinstance(small, cst.Assign | cst.Expr) else None
        return [value] if isinstance(value, cst.Call) else []
    if isinstance(stmt, cst.Try) and stmt.body.body:
        first = stmt.body.body[0]
        return _calls(first) if isinstance(first, cst.BaseStatement) else []
    if isinstance(stmt, cst.With) and len(stmt.items) == 1 and isinstance(stmt.items[0].item, cst.Call):
        return [stmt.items[0].item]
    return []


def _api(call: cst.Call) -> str | None:
    found = beta_api(call.func)
    return found[1] if found else None


def _mentions(stmt: cst.CSTNode, name: str) -> bool:
    return bool(m.findall(stmt, m.Name(name)))


class Turns(Pattern):
    name = "turns"

    def _block(self, body: list) -> list:
        out = list(body)
        i = 0
        while i < len(out):
            calls = _calls(out[i])
            api = _api(calls[0]) if calls else None
            thread_expr: cst.BaseExpression | None = None
            messages: cst.BaseExpression | None = None
            new_source = None
            if api == "threads.messages.create":
                call = calls[0]
                thread = arg(call, "thread_id", 0)
                role, content = arg(call, "role"), arg(call, "content")
                if thread and role and content and not others(call, "thread_id", "role", "content", positional=1) and isinstance(out[i], cst.SimpleStatementLine) and isinstance(out[i].body[0], cst.Expr):
                    thread_expr = thread.value
                    messages = cst.parse_expression(f'[{{"role": {code(role.value)}, "content": {code(content.value)}}}]')
            elif api == "threads.create" and isinstance(out[i], cst.SimpleStatementLine) and isinstance(out[i].body[0], cst.Assign):
                call = calls[0]
                given = arg(call, "messages")
                target = dotted(out[i].body[0].targets[0].target)
                if given is not None and isinstance(given.value, cst.List) and target and "." not in target and "attachments" not in code(given.value):
                    thread_expr = cst.parse_expression(f"{target}.id")
                    messages = given.value
                    new_source = call.with_changes(args=others(call, "messages"))
            if thread_expr is None or messages is None:
                i += 1
                continue
            root = (dotted(thread_expr) or "").split(".")[0]
            j = i + 1
            while j < len(out) and not (root and _mentions(out[j], root)):
                j += 1
            run_calls = _calls(out[j]) if j < len(out) else []
            if not root or not run_calls or _api(run_calls[0]) not in RUN_APIS or arg(run_calls[0], "additional_messages") is not None:
                i += 1
                continue
            run = run_calls[0]
            run_thread = arg(run, "thread_id", 0)
            if run_thread is None or code(run_thread.value) != code(thread_expr):
                i += 1
                continue
            new_run = run.with_changes(args=[*[a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in run.args], kw("additional_messages", messages)])
            out[j] = out[j].deep_replace(run, new_run)
            if new_source is not None:
                out[i] = out[i].deep_replace(calls[0], new_source)
                i += 1
            else:
                del out[i]
        return out

    def leave_Module(self, original_node, updated_node):
        return updated_node.with_changes(body=self._block(list(updated_node.body)))

    def leave_IndentedBlock(self, original_node, updated_node):
        return updated_node.with_changes(body=self._block(list(updated_node.body)))
