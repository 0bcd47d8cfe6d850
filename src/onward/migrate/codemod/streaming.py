"""`AssistantEventHandler` subclasses and `runs.stream` → `responses.stream`.

A handler class becomes a plain class with one added method, `handle_stream(stream)`, that
iterates a `responses.stream` and calls the class's own callbacks from the Responses events that
carry the same data (the table below; the order is the Assistants SDK's: `on_event` first, then
the specific callback, `on_end` after the last event). `with runs.stream(…, event_handler=h) as
s: s.until_done()` becomes `with responses.stream(conversation=…, input=…, **settings) as s:
h.handle_stream(s)`, and so does `submit_tool_outputs_stream` called from inside a handler (the
docs' pattern for tools answered while streaming). Callbacks with no Responses counterpart
(run steps, tool-call deltas, exceptions) leave the class as it was, with a TODO.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from .base import Context, Pattern, arg, attr_chain, beta_api, code, expr, kw, others, star

HANDLERS = {"AssistantEventHandler", "AsyncAssistantEventHandler"}
METHOD = "handle_stream"
# callback → (test on the Responses event, call arguments, {parameter index: {old attribute: new}})
CALLBACKS: dict[str, tuple[str, str, dict[int, dict[str, str | None]]]] = {
    "on_text_created": ('event.type == "response.content_part.added" and event.part.type == "output_text"', "event.part", {0: {"value": "text"}}),
    "on_text_delta": ('event.type == "response.output_text.delta"', "event, event.snapshot", {0: {"value": "delta"}, 1: {"value": None}}),
    "on_text_done": ('event.type == "response.output_text.done"', "event", {0: {"value": "text"}}),
    "on_message_created": ('event.type == "response.output_item.added" and event.item.type == "message"', "event.item", {}),
    "on_message_done": ('event.type == "response.output_item.done" and event.item.type == "message"', "event.item", {}),
    # Function tools only: file_search and code_interpreter calls are items of their own types.
    "on_tool_call_created": ('event.type == "response.output_item.added" and event.item.type == "function_call"', "event.item", {0: {"id": "call_id"}}),
    "on_tool_call_done": ('event.type == "response.output_item.done" and event.item.type == "function_call"', "event.item", {0: {"id": "call_id"}}),
}
SPECIAL = {"on_event", "on_end"}
UNMAPPED = {
    "on_tool_call_delta": "response.function_call_arguments.delta (event.delta holds the argument text)",
    "on_run_step_created": "response.output_item.added (run steps are output items)",
    "on_run_step_delta": "the output item's own delta events",
    "on_run_step_done": "response.output_item.done (run steps are output items)",
    "on_message_delta": "response.output_text.delta",
    "on_exception": "an except clause around the stream (errors are raised)",
    "on_timeout": "an except openai.APITimeoutError clause around the stream",
    "on_image_file_done": "code_interpreter_call outputs (container files)",
}
# Assistants event name → (the Responses event test, what `event.data` becomes in its branch).
# requires_action: the response completed with function calls left to answer.
EVENTS = {
    "thread.run.created": ('{e}.type == "response.created"', "response"),
    "thread.run.in_progress": ('{e}.type == "response.in_progress"', "response"),
    "thread.run.completed": ('({e}.type == "response.completed" and not any(item.type == "function_call" for item in {e}.response.output))', "response"),
    "thread.run.requires_action": ('({e}.type == "response.completed" and any(item.type == "function_call" for item in {e}.response.output))', "response"),
    "thread.run.failed": ('{e}.type == "response.failed"', "response"),
    "thread.run.incomplete": ('{e}.type == "response.incomplete"', "response"),
    "thread.message.created": ('({e}.type == "response.output_item.added" and {e}.item.type == "message")', "item"),
    "thread.message.completed": ('({e}.type == "response.output_item.done" and {e}.item.type == "message")', "item"),
    "thread.message.delta": ('{e}.type == "response.output_text.delta"', None),  # only data.delta.content[0].text.value
}


class _Params(cst.CSTTransformer):
    """`delta.value` → `delta.delta` (or `snapshot.value` → `snapshot`), `tool_call.function.name`
    → `tool_call.name` inside one callback."""

    def __init__(self, renames: dict[str, dict[str, str | None]], flatten: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__()
        self.renames = renames
        self.flatten = flatten

    def leave_Attribute(self, original_node, updated_node):
        value = updated_node.value
        if isinstance(value, cst.Attribute) and value.attr.value == "function" and isinstance(value.value, cst.Name) and value.value.value in self.flatten:
            return updated_node.with_changes(value=value.value)
        if isinstance(value, cst.Name) and value.value in self.renames:
            table = self.renames[value.value]
            if updated_node.attr.value in table:
                new = table[updated_node.attr.value]
                return value if new is None else updated_node.with_changes(attr=cst.Name(new))
        return updated_node


def _event_test(node: cst.BaseExpression, name: str) -> tuple[tuple[str, ...], bool] | None:
    """(event names, positive) for `name.event == "X"`, `!= "X"`, `in ("X", "Y")` or `not in
    (…)`; None for anything else."""
    if not (isinstance(node, cst.Comparison) and len(node.comparisons) == 1 and m.matches(node.left, m.Attribute(value=m.Name(name), attr=m.Name("event")))):
        return None
    target = node.comparisons[0]
    if isinstance(target.comparator, cst.SimpleString) and isinstance(target.operator, cst.Equal | cst.NotEqual):
        return (str(target.comparator.evaluated_value),), isinstance(target.operator, cst.Equal)
    if isinstance(target.comparator, cst.Tuple | cst.List | cst.Set) and isinstance(target.operator, cst.In | cst.NotIn):
        names = [e.value.evaluated_value for e in target.comparator.elements if isinstance(e.value, cst.SimpleString)]
        if len(names) == len(target.comparator.elements) and names:
            return tuple(str(n) for n in names), isinstance(target.operator, cst.In)
    return None


def _branch_event(names: tuple[str, ...]) -> str:
    """The event whose data a branch on `names` reads: theirs if they all carry the same object."""
    carried = {EVENTS[n][1] if n in EVENTS else "?" for n in names}
    return names[0] if len(carried) == 1 else "mixed"


TEXT_DELTA = "delta.content[0].text"  # `.value` already dropped by the Threads pass


class _Events(cst.CSTTransformer):
    """Assistants stream events read by name → Responses events, for one event variable:
    `e.event == "thread.run.X"` → the Responses event test, `e.data` → what the Responses event
    carries in that branch (`e.response`, `e.item`; `e.data.delta.content[0].text.value` →
    `e.delta`). Anything it cannot map is listed in `problems` (then nothing is rewritten)."""

    def __init__(self, name: str, body: cst.CSTNode) -> None:
        super().__init__()
        self.name = name
        self.problems: list[str] = []
        self.branch: dict[int, str] = {}  # id(If.body) → event name
        for node in m.findall(body, m.If()):
            test = _event_test(node.test, name)  # type: ignore[attr-defined]
            if test is not None and test[1]:
                self.branch[id(node.body)] = _branch_event(test[0])  # type: ignore[attr-defined]
        self.context: list[str] = []
        self._partial_deltas = 0  # `e.data` inside a message-delta branch not part of the text chain
        uses = len(m.findall(body, m.Attribute(value=m.Name(name), attr=m.Name("event"))))
        compared = [e for c in m.findall(body, m.Comparison()) if (e := _event_test(c, name)) is not None]  # type: ignore[arg-type]
        tests = [n for names, _ in compared for n in names]
        if uses != len(compared):
            self.problems.append(f"{name}.event read outside a comparison with an event name")
        unknown = sorted(set(tests) - set(EVENTS))
        if unknown:
            self.problems.append(f"events {', '.join(unknown)}: match the Responses event types instead (response.output_item.added/done, response.output_text.delta, response.completed)")

    def leave_Module(self, original_node, updated_node):
        return updated_node

    @property
    def all_problems(self) -> list[str]:
        """The problems found (call after visiting)."""
        extra = [f"{self.name}.data in a thread.message.delta branch beyond data.{TEXT_DELTA}"] if self._partial_deltas else []
        return list(dict.fromkeys([*self.problems, *extra]))

    def visit_IndentedBlock(self, node):
        self.context.append(self.branch.get(id(node), self.context[-1] if self.context else ""))

    def leave_IndentedBlock(self, original_node, updated_node):
        self.context.pop()
        return updated_node

    def leave_Comparison(self, original_node, updated_node):
        found = _event_test(updated_node, self.name)
        if found is None or not set(found[0]) <= set(EVENTS):
            return updated_node
        tests = [EVENTS[n][0].format(e=self.name) for n in found[0]]
        test = expr(tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")")
        return test if found[1] else cst.UnaryOperation(cst.Not(), test)

    def leave_Attribute(self, original_node, updated_node):
        if code(updated_node) == f"{self.name}.data.{TEXT_DELTA}":
            self._partial_deltas -= 1
            return expr(f"{self.name}.delta")
        if m.matches(updated_node, m.Attribute(value=m.Name(self.name), attr=m.Name("data"))):
            event = self.context[-1] if self.context else ""
            if event == "thread.message.delta":  # rewritten whole by the chain above, or a problem
                self._partial_deltas += 1
                return updated_node
            carried = EVENTS[event][1] if event in EVENTS else None
            if carried is None:
                self.problems.append(f"{self.name}.data read outside a branch on a run or message event (or beyond the text of a message delta)")
                return updated_node
            return updated_node.with_changes(attr=cst.Name(carried))
        return updated_node


class _CurrentRun(cst.CSTTransformer):
    """`self.current_run.thread_id` → `self.current_run.conversation.id` (the response's)."""

    def leave_Attribute(self, original_node, updated_node):
        if m.matches(updated_node, m.Attribute(value=m.Attribute(value=m.Name("self"), attr=m.Name("current_run")), attr=m.Name("thread_id"))):
            return expr("self.current_run.conversation.id")
        return updated_node


def _on_event_problem(fn: cst.FunctionDef) -> str | None:
    """Why `on_event` cannot be rewritten, or None."""
    if len(fn.params.params) != 2:
        return "on_event with an unusual signature"
    events = _Events(fn.params.params[1].name.value, fn.body)
    fn.body.visit(events)
    return "on_event: " + "; ".join(events.all_problems) if events.all_problems else None


def _class_problem(node: cst.ClassDef) -> str | None:
    """Why a handler class cannot be rewritten, or None."""
    methods = {s.name.value: s for s in node.body.body if isinstance(s, cst.FunctionDef)}
    if any(m.matches(b.value, m.Name("AsyncAssistantEventHandler")) for b in node.bases):
        return "an async event handler: iterate `async with client.responses.stream(…) as stream: async for event in stream:` and await your callbacks from the Responses events"
    extra = sorted(x for x in methods if x.startswith("on_") and x not in CALLBACKS and x not in SPECIAL)
    if METHOD in methods:
        return f"the class already has a {METHOD} method"
    if extra:
        hints = "; ".join(f"{x} → {UNMAPPED[x]}" if x in UNMAPPED else f"{x}: no Responses counterpart" for x in extra)
        return f"event handler callbacks with no one-to-one Responses event: {hints}; iterate responses.stream(...) events instead"
    if "on_event" in methods and (problem := _on_event_problem(methods["on_event"])) is not None:
        return problem
    uses = m.findall(node, m.Attribute(value=m.Attribute(value=m.Name("self"), attr=m.Name("current_run")), attr=m.Name()))
    if not all(u.attr.value in ("thread_id", "id", "status", "usage") for u in uses if isinstance(u, cst.Attribute)):
        return "self.current_run attributes other than thread_id/id/status/usage: read them from the response (event.response)"
    if len(m.findall(node, m.Attribute(value=m.Name("self"), attr=m.Name("current_run")))) != len(uses):
        return "self.current_run used as a whole: it is now the response being streamed"
    return None


def _class_nodes(module: cst.Module) -> dict[str, cst.ClassDef]:
    return {s.name.value: s for s in module.body if isinstance(s, cst.ClassDef) and any(m.matches(b.value, m.Name()) and b.value.value in HANDLERS for b in s.bases)}  # type: ignore[attr-defined]


def handler_classes(module: cst.Module) -> dict[str, set[str]]:
    """Module-level handler subclasses → their method names."""
    return {name: {s.name.value for s in node.body.body if isinstance(s, cst.FunctionDef)} for name, node in _class_nodes(module).items()}


def run_assistants(module: cst.Module) -> set[str]:
    """The `assistant_id=` expressions given to runs anywhere in the module (as code)."""
    found: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            api = beta_api(node.func)
            if api and api[1].startswith("threads.runs.") and (a := arg(node, "assistant_id")) is not None:
                found.add(code(a.value))

    module.visit(V())
    return found


class Streaming(Pattern):
    name = "streaming"

    def __init__(self, ctx: Context, module: cst.Module) -> None:
        super().__init__(ctx)
        self.classes = handler_classes(module)
        self.instances = handler_instances(module, self.classes)  # variable → handler class
        self.problems = {name: p for name, node in _class_nodes(module).items() if (p := _class_problem(node)) is not None}
        self.safe = set(self.classes) - set(self.problems)
        # The settings a tool-output stream continues with: the one assistant this file runs.
        given = run_assistants(module)
        self.settings = next(iter(given))[: -len(".id")] if len(given) == 1 and next(iter(given)).endswith(".id") else None

    def _handler_class(self, handler: cst.Arg | None) -> str | None:
        if handler is None:
            return None
        value = handler.value
        if m.matches(value, m.Call(func=m.Name())):
            return value.func.value  # type: ignore[attr-defined]
        if isinstance(value, cst.Name):
            return self.instances.get(value.value)
        return None

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef):
        name = original_node.name.value
        if name not in self.classes:
            return super().leave_ClassDef(original_node, updated_node)
        problem = self.problems.get(name)
        if problem is not None:
            self.todo(original_node, problem)
            return super().leave_ClassDef(original_node, updated_node)
        body: list = []
        for stmt in updated_node.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value in CALLBACKS:
                params = [p.name.value for p in stmt.params.params[1:]]
                table_of = CALLBACKS[stmt.name.value][2]
                renames = {params[i]: table for i, table in table_of.items() if i < len(params)}
                flatten = {params[0]} if stmt.name.value.startswith("on_tool_call") and params else set()
                stmt = stmt.with_changes(body=stmt.body.visit(_Params(renames, flatten)))
            elif isinstance(stmt, cst.FunctionDef) and stmt.name.value == "on_event":
                stmt = stmt.with_changes(body=stmt.body.visit(_Events(stmt.params.params[1].name.value, stmt.body)))
            elif isinstance(stmt, cst.FunctionDef) and stmt.name.value == "__init__":
                kept = [s for s in stmt.body.body if not m.matches(s, m.SimpleStatementLine(body=[m.Expr(m.Call(func=m.Attribute(value=m.Call(func=m.Name("super")), attr=m.Name("__init__"))))]))]
                stmt = stmt.with_changes(body=stmt.body.with_changes(body=kept or [cst.SimpleStatementLine([cst.Pass()])]))
            body.append(stmt)
        tracks_run = bool(m.findall(updated_node, m.Attribute(value=m.Name("self"), attr=m.Name("current_run"))))
        if tracks_run:
            first = cst.parse_statement("current_run = None  # the response being streamed (was the run)\n")
            body = [first, *[b.with_changes(leading_lines=[cst.EmptyLine(indent=False), *b.leading_lines]) if i == 0 and not b.leading_lines else b for i, b in enumerate(body)]]
        body.append(self._method(self.classes[name], tracks_run, not any(isinstance(s, cst.FunctionDef) for s in updated_node.body.body)))
        self.ctx.removed_imports |= HANDLERS
        self.done(original_node, f"AssistantEventHandler subclass → a plain class whose {METHOD}() calls its callbacks from responses.stream events")
        new = updated_node.with_changes(bases=[], lpar=cst.MaybeSentinel.DEFAULT, rpar=cst.MaybeSentinel.DEFAULT, body=updated_node.body.with_changes(body=body))
        new = new.visit(_CurrentRun())  # type: ignore[assignment]
        return super().leave_ClassDef(original_node, new)

    def _method(self, methods: set[str], tracks_run: bool, first: bool) -> cst.BaseStatement:
        lines = [
            f"def {METHOD}(self, stream):\n",
            '    """Call this handler\'s callbacks from responses.stream events (written by onward migrate codemod)."""\n',
            "    for event in stream:\n",
        ]
        if tracks_run:
            lines.append('        if event.type in ("response.created", "response.completed"):\n            self.current_run = event.response\n')
        if "on_event" in methods:
            lines.append("        self.on_event(event)\n")
        mapped = [x for x in CALLBACKS if x in methods]
        for i, method in enumerate(mapped):
            test, args, _ = CALLBACKS[method]
            lines.append(f"        {'if' if i == 0 else 'elif'} {test}:\n            self.{method}({args})\n")
        if not mapped and "on_event" not in methods and not tracks_run:
            lines.append("        pass\n")
        if "on_end" in methods:
            lines.append("    self.on_end()\n")
        fn = cst.parse_statement("".join(lines))
        return fn if first else fn.with_changes(leading_lines=[cst.EmptyLine(indent=False)])  # type: ignore[union-attr]

    def leave_With(self, original_node: cst.With, updated_node: cst.With):
        if len(updated_node.items) != 1 or not isinstance(updated_node.items[0].item, cst.Call):
            return super().leave_With(original_node, updated_node)
        call = updated_node.items[0].item
        found = beta_api(call.func)
        apis = ("threads.runs.stream", "threads.runs.create_and_stream", "threads.runs.submit_tool_outputs_stream")
        if not found or found[1] not in apis:
            return super().leave_With(original_node, updated_node)
        client, api = found
        handler = arg(call, "event_handler")
        cls = self._handler_class(handler)
        name = updated_node.items[0].asname
        body = updated_node.body.body
        until_done = len(body) == 1 and name is not None and m.matches(body[0], m.SimpleStatementLine(body=[m.Expr(m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("until_done"))))]))
        hint = "use responses.stream(conversation=…, input=…, **settings) and call your code from its events (response.output_text.delta, response.output_item.done, response.completed)"
        raw = None  # `for event in stream:` reading Assistants events by name
        if handler is None and name is not None and len(body) == 1 and isinstance(body[0], cst.For) and isinstance(body[0].target, cst.Name) and m.matches(body[0].iter, m.Name(code(name.name))):
            raw = _Events(body[0].target.value, body[0].body)
            new_loop = body[0].with_changes(body=body[0].body.visit(raw))
            if raw.all_problems:
                self.todo(original_node, f"{api} read event by event: " + "; ".join(raw.all_problems))
                return super().leave_With(original_node, updated_node)
        if raw is None and (cls not in self.safe or handler is None or not until_done) or not self.ctx.assistants_converted or self.ctx.assistant_sources:
            self.todo(original_node, f"{api} with this event handler: {hint}")
            return super().leave_With(original_node, updated_node)
        if api == "threads.runs.submit_tool_outputs_stream":
            thread, given, settings = arg(call, "thread_id"), arg(call, "tool_outputs"), self.settings
            rest = others(call, "thread_id", "run_id", "tool_outputs", "event_handler")
            why = "tool outputs streamed to a run whose settings are not the one assistant of this file"
        else:
            assistant = arg(call, "assistant_id")
            thread, given = arg(call, "thread_id"), arg(call, "additional_messages")
            settings = code(assistant.value.value) if assistant is not None and isinstance(assistant.value, cst.Attribute) and assistant.value.attr.value == "id" else None
            rest = others(call, "thread_id", "assistant_id", "event_handler", "additional_messages")
            why = "a stream with no new message (responses.stream needs input) or an assistant that is not settings kept in this file"
        if thread is None or given is None or settings is None or any(a.keyword is None or a.keyword.value not in ("max_completion_tokens", "temperature", "top_p", "metadata", "parallel_tool_calls", "tool_choice") for a in rest):
            self.todo(original_node, f"{api}: {why}; {hint}")
            return super().leave_With(original_node, updated_node)
        rest = [a.with_changes(keyword=cst.Name("max_output_tokens")) if a.keyword and a.keyword.value == "max_completion_tokens" else a for a in rest]
        new_call = call.with_changes(func=attr_chain(client, "responses.stream"), args=[kw("conversation", thread.value), kw("input", given.value), star(expr(settings)), *rest])
        if raw is not None:
            inner: cst.BaseStatement = new_loop
            self.done(original_node, f"{api} read event by event → responses.stream with the Responses event types")
        else:
            inner = cst.parse_statement(f"{code(handler.value)}.{METHOD}({code(name.name)})\n")  # type: ignore[union-attr]
            self.done(original_node, f"{api} → responses.stream, events passed to the handler's {METHOD}()")
        new = updated_node.with_changes(items=[updated_node.items[0].with_changes(item=new_call)], body=updated_node.body.with_changes(body=[inner]))
        return super().leave_With(original_node, new)


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
