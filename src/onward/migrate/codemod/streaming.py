"""`AssistantEventHandler` subclasses and `runs.stream` → `responses.stream` with the handler's
callbacks called from the Responses event types that carry the same data."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from .base import Context, Pattern, arg, attr_chain, beta_api, code, kw, others, star

HANDLERS = {"AssistantEventHandler", "AsyncAssistantEventHandler"}
# callback → (Responses event type, call arguments, {parameter index: {old attribute: new}})
CALLBACKS = {
    "on_text_delta": ("response.output_text.delta", "event, event.snapshot", {0: {"value": "delta"}, 1: {"value": None}}),
    "on_text_done": ("response.output_text.done", "event", {0: {"value": "text"}}),
}


class _Params(cst.CSTTransformer):
    """`delta.value` → `delta.delta` (or `snapshot.value` → `snapshot`) inside one callback."""

    def __init__(self, renames: dict[str, dict[str, str | None]]) -> None:
        super().__init__()
        self.renames = renames

    def leave_Attribute(self, original_node, updated_node):
        if isinstance(updated_node.value, cst.Name) and updated_node.value.value in self.renames:
            table = self.renames[updated_node.value.value]
            if updated_node.attr.value in table:
                new = table[updated_node.attr.value]
                return updated_node.value if new is None else updated_node.with_changes(attr=cst.Name(new))
        return updated_node


def handler_classes(module: cst.Module) -> dict[str, set[str]]:
    """Module-level handler subclasses → their method names."""
    out: dict[str, set[str]] = {}
    for stmt in module.body:
        if isinstance(stmt, cst.ClassDef) and any(m.matches(b.value, m.Name()) and b.value.value in HANDLERS for b in stmt.bases):  # type: ignore[attr-defined]
            out[stmt.name.value] = {s.name.value for s in stmt.body.body if isinstance(s, cst.FunctionDef)}
    return out


class Streaming(Pattern):
    name = "streaming"

    def __init__(self, ctx: Context, classes: dict[str, set[str]], instances: dict[str, str]) -> None:
        super().__init__(ctx)
        # Only handlers whose callbacks all have a Responses counterpart are rewritten.
        self.safe = {name for name, methods in classes.items() if {x for x in methods if x.startswith("on_")} <= set(CALLBACKS)}
        self.classes = classes
        self.instances = instances  # variable → handler class

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef):
        name = original_node.name.value
        if name not in self.classes:
            return super().leave_ClassDef(original_node, updated_node)
        if name not in self.safe:
            extra = sorted(x for x in self.classes[name] if x.startswith("on_") and x not in CALLBACKS)
            self.todo(original_node, f"event handler callbacks {', '.join(extra)}: iterate responses.stream(...) events (response.output_item.done for function_call items, response.completed) instead")
            return super().leave_ClassDef(original_node, updated_node)
        body = []
        for stmt in updated_node.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value in CALLBACKS:
                params = [p.name.value for p in stmt.params.params[1:]]
                table_of: dict = CALLBACKS[stmt.name.value][2]  # type: ignore[assignment]
                renames = {params[i]: table for i, table in table_of.items() if i < len(params)}
                stmt = stmt.with_changes(body=stmt.body.visit(_Params(renames)))
            elif isinstance(stmt, cst.FunctionDef) and stmt.name.value == "__init__":
                kept = [s for s in stmt.body.body if not m.matches(s, m.SimpleStatementLine(body=[m.Expr(m.Call(func=m.Attribute(value=m.Call(func=m.Name("super")), attr=m.Name("__init__"))))]))]
                stmt = stmt.with_changes(body=stmt.body.with_changes(body=kept or [cst.SimpleStatementLine([cst.Pass()])]))
            body.append(stmt)
        self.ctx.removed_imports |= HANDLERS
        self.done(original_node, "AssistantEventHandler subclass → a plain class called from responses.stream events")
        updated_node = updated_node.with_changes(bases=[], lpar=cst.MaybeSentinel.DEFAULT, rpar=cst.MaybeSentinel.DEFAULT, body=updated_node.body.with_changes(body=body))
        return super().leave_ClassDef(original_node, updated_node)

    def leave_With(self, original_node: cst.With, updated_node: cst.With):
        if len(updated_node.items) != 1 or not isinstance(updated_node.items[0].item, cst.Call):
            return super().leave_With(original_node, updated_node)
        call = updated_node.items[0].item
        found = beta_api(call.func)
        if not found or found[1] not in ("threads.runs.stream", "threads.runs.create_and_stream"):
            return super().leave_With(original_node, updated_node)
        client, api = found
        handler = arg(call, "event_handler")
        thread = arg(call, "thread_id")
        assistant = arg(call, "assistant_id")
        cls = None
        if handler is not None:
            value = handler.value
            if m.matches(value, m.Call(func=m.Name())):
                cls = value.func.value  # type: ignore[attr-defined]
            elif isinstance(value, cst.Name):
                cls = self.instances.get(value.value)
        name = updated_node.items[0].asname
        body = updated_node.body.body
        until_done = len(body) == 1 and name is not None and m.matches(body[0], m.SimpleStatementLine(body=[m.Expr(m.Call(func=m.Attribute(attr=m.Name("until_done"))))]))
        if cls not in self.safe or thread is None or assistant is None or not until_done or not isinstance(assistant.value, cst.Attribute) or not self.ctx.assistants_converted:
            self.todo(original_node, f"{api} with this event handler: use responses.stream(conversation=…, **settings) and call your code from its events (response.output_text.delta, response.output_item.done, response.completed)")
            return super().leave_With(original_node, updated_node)
        methods = self.classes[cls] & set(CALLBACKS)
        target = handler.value if isinstance(handler.value, cst.Name) else None  # type: ignore[union-attr]
        lines = []
        pre = []
        if target is None:
            pre = [cst.parse_statement(f"handler = {code(handler.value)}")]  # type: ignore[union-attr]
        who = code(target) if target is not None else "handler"
        for i, method in enumerate(sorted(methods)):
            event, args, _ = CALLBACKS[method]
            lines.append(f'    {"if" if i == 0 else "elif"} event.type == "{event}":\n        {who}.{method}({args})\n')
        stream_name = code(name.name)  # type: ignore[union-attr]
        loop = cst.parse_statement(f"for event in {stream_name}:\n" + "".join(lines) if lines else f"for event in {stream_name}:\n    pass\n")
        given = arg(call, "additional_messages")
        if given is None:
            self.todo(original_node, "a stream with no new message: responses.stream needs input")
            return super().leave_With(original_node, updated_node)
        rest = others(call, "thread_id", "assistant_id", "event_handler", "additional_messages")
        rest = [a.with_changes(keyword=cst.Name("max_output_tokens")) if a.keyword and a.keyword.value == "max_completion_tokens" else a for a in rest]
        new_call = call.with_changes(func=attr_chain(client, "responses.stream"), args=[kw("conversation", thread.value), kw("input", given.value), star(assistant.value.value), *rest])  # type: ignore[attr-defined]
        self.done(original_node, f"{api} → responses.stream with the handler's callbacks")
        new = updated_node.with_changes(items=[updated_node.items[0].with_changes(item=new_call)], body=updated_node.body.with_changes(body=[loop]))
        new = super().leave_With(original_node, new)
        return cst.FlattenSentinel([*pre, new]) if pre else new


def handler_instances(module: cst.Module, classes: dict[str, set[str]]) -> dict[str, str]:
    """`name = HandlerClass()` assignments anywhere in the module."""
    out: dict[str, str] = {}

    class V(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and m.matches(node.value, m.Call(func=m.Name())):
                cls = node.value.func.value  # type: ignore[attr-defined]
                if cls in classes:
                    out[node.targets[0].target.value] = cls

    module.visit(V())
    return out
