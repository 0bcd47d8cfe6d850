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
        if isinstance(value, cst.Await):  # the async client: `x = await call(...)`
            value = value.expression
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


def _file_search_attachments(messages: cst.List) -> tuple[cst.List, list[cst.BaseExpression]] | None:
    """(the messages without their `attachments`, the attached file ids) when every attachment
    is a literal `{"file_id": …, "tools": [{"type": "file_search"}]}`; None otherwise."""
    files: list[cst.BaseExpression] = []
    elements = []
    for element in messages.elements:
        message = element.value
        if not isinstance(message, cst.Dict):
            return None
        kept = []
        for e in message.elements:
            if not (isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) and e.key.evaluated_value == "attachments"):
                kept.append(e)
                continue
            if not isinstance(e.value, cst.List):
                return None
            for attachment in e.value.elements:
                given = {k.key.evaluated_value: k.value for k in getattr(attachment.value, "elements", []) if isinstance(k, cst.DictElement) and isinstance(k.key, cst.SimpleString)}
                if not isinstance(attachment.value, cst.Dict) or set(given) != {"file_id", "tools"} or code(given["tools"]).replace(" ", "") not in ('[{"type":"file_search"}]', "[{'type':'file_search'}]"):
                    return None
                files.append(given["file_id"])
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        elements.append(element.with_changes(value=message.with_changes(elements=kept)))
    return messages.with_changes(elements=elements), files


def _mentions(stmt: cst.CSTNode, name: str) -> bool:
    return bool(m.findall(stmt, m.Name(name)))


class Turns(Pattern):
    name = "turns"

    def _block(self, body: list, originals: list) -> list:
        out = list(body)
        # report rows need the original nodes (positions are known for those only)
        origin = {id(new): old for new, old in zip(body, originals, strict=False)} if len(body) == len(originals) else {}
        i = 0
        while i < len(out):
            calls = _calls(out[i])
            api = _api(calls[0]) if calls else None
            thread_expr: cst.BaseExpression | None = None
            messages: cst.BaseExpression | None = None
            new_source = None
            files: list[cst.BaseExpression] = []
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
                stripped = _file_search_attachments(given.value) if given is not None and isinstance(given.value, cst.List) else None
                if stripped is not None and target and "." not in target:
                    thread_expr = cst.parse_expression(f"{target}.id")
                    messages, files = stripped
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
                if not new_source.args:  # `create(\n messages=[…])` → `create()`
                    new_source = new_source.with_changes(whitespace_before_args=cst.SimpleWhitespace(""))
                source_stmt = origin.get(id(out[i]), out[i])
                out[i] = out[i].deep_replace(calls[0], new_source)
                if files:  # the thread's own vector store, given to the run's file_search tool
                    store = f"{code(thread_expr).split('.')[0]}_store"
                    client = code(beta_api(calls[0].func)[0])  # type: ignore[index]
                    ids = ", ".join(code(f) for f in files)
                    self.ctx.thread_stores[code(thread_expr)] = store
                    self.done(source_stmt, "message attachments for file_search → a vector store given to the file_search tool")
                    out.insert(i, cst.parse_statement(f"{store} = {client}.vector_stores.create(file_ids=[{ids}])\n"))
                    i += 1
                i += 1
            else:
                del out[i]
        return out

    def leave_Module(self, original_node, updated_node):
        return updated_node.with_changes(body=self._block(list(updated_node.body), list(original_node.body)))

    def leave_IndentedBlock(self, original_node, updated_node):
        return updated_node.with_changes(body=self._block(list(updated_node.body), list(original_node.body)))
