"""Runs → `responses.create(conversation=…)`; `requires_action` tool loops → inline loops over
`function_call` items answered with `function_call_output` items; run usage and errors → the
response's (`input_tokens`/`output_tokens`, `error`). Responses return when the model is done,
so polling loops fall through unchanged."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from .base import Context, Pattern, arg, attr_chain, beta_api, code, expr, kw, others, star

RUN_MAP = {"max_completion_tokens": "max_output_tokens"}
RUN_KEEP = ("tool_choice", "temperature", "top_p", "metadata", "parallel_tool_calls", "max_output_tokens")
RUN_UNSAFE = ("additional_instructions", "truncation_strategy", "max_prompt_tokens", "instructions", "model", "tools", "response_format", "stream", "include")
FUNCTION_CALLS = "[item for item in {run}.output if item.type == \"function_call\"]"
TOOL_CALLS = m.Attribute(value=m.Attribute(value=m.Attribute(attr=m.Name("required_action")), attr=m.Name("submit_tool_outputs")), attr=m.Name("tool_calls"))


class _CallVar(cst.CSTTransformer):
    """Inside `for call in <tool calls>:` the loop variable is a function_call item."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.var = name

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute):
        value = updated_node.value
        if isinstance(value, cst.Attribute) and value.attr.value == "function" and m.matches(value.value, m.Name(self.var)):
            return updated_node.with_changes(value=value.value)  # call.function.name → call.name
        if m.matches(updated_node, m.Attribute(value=m.Name(self.var), attr=m.Name("id"))):
            return updated_node.with_changes(attr=cst.Name("call_id"))
        return updated_node


class Runs(Pattern):
    name = "runs-tools"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.run_threads: set[str] = set()  # names holding a create_and_run result: run.thread_id → response.conversation.id

    def _spread(self, original: cst.Call, assistant: cst.Arg | None) -> cst.BaseExpression | None:
        if assistant is None or not self.ctx.assistants_converted or self.ctx.assistant_sources:
            return None
        value = assistant.value
        if isinstance(value, cst.Attribute) and value.attr.value == "id":
            return value.value
        if isinstance(value, cst.Name):
            return value  # a settings dict, or a parameter carrying one (callers pass `assistant.id` → `assistant`)
        return None

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        result = self._call(original_node, updated_node)
        if isinstance(result, cst.Call) and beta_api(result.func) is not None:
            # not rewritten (a TODO, or an API this pass leaves alone): its arguments stay as written
            return result.with_changes(args=original_node.args)
        return result

    def _call(self, original_node: cst.Call, updated_node: cst.Call):
        found = beta_api(original_node.func)
        if not found:
            return updated_node
        client, api = found
        if api in ("threads.runs.create", "threads.runs.create_and_poll"):
            return self._create(original_node, updated_node, client, "responses.create")
        if api == "threads.runs.retrieve" or api == "threads.runs.poll":
            run = arg(updated_node, "run_id", 0)
            if run is None:
                return updated_node
            self.done(original_node, f"{api} → responses.retrieve")
            return updated_node.with_changes(func=attr_chain(client, "responses.retrieve"), args=[run.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT, comma=cst.MaybeSentinel.DEFAULT)])
        if api == "threads.runs.cancel":
            run = arg(updated_node, "run_id", 0)
            if run is None:
                return updated_node
            self.done(original_node, "runs.cancel → responses.cancel (only background responses can be cancelled)")
            return updated_node.with_changes(func=attr_chain(client, "responses.cancel"), args=[run.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT, comma=cst.MaybeSentinel.DEFAULT)])
        if api in ("threads.runs.submit_tool_outputs", "threads.runs.submit_tool_outputs_and_poll"):
            return self._submit(original_node, updated_node, client)
        if api.startswith("threads.runs.steps"):
            self.todo(original_node, "run steps: read response.output items (function_call, file_search_call, code_interpreter_call, message)")
        elif api in ("threads.create_and_run", "threads.create_and_run_poll"):
            return self._create_and_run(original_node, updated_node, client)
        elif api.startswith("threads.create_and_run"):
            self.todo(original_node, "create_and_run streamed: responses.stream(conversation=client.conversations.create().id, input=[messages], **settings)")
        return updated_node

    def _create_and_run(self, original: cst.Call, call: cst.Call, client):
        """`create_and_run_poll(assistant_id=a.id, thread={"messages": [...]})` → a response on a
        new conversation, the messages as its input (the conversation then holds both, as the
        thread did)."""
        spread = self._spread(original, arg(call, "assistant_id"))
        thread = arg(call, "thread")
        messages = None
        if thread is not None and isinstance(thread.value, cst.Dict) and len(thread.value.elements) == 1:
            only = thread.value.elements[0]
            if isinstance(only, cst.DictElement) and isinstance(only.key, cst.SimpleString) and only.key.evaluated_value == "messages" and isinstance(only.value, cst.List):
                messages = only.value
        rest = others(call, "assistant_id", "thread")
        unsafe = [a.keyword.value if a.keyword else "**" for a in rest if a.keyword is None or a.keyword.value not in (*RUN_KEEP, *RUN_MAP)]
        if spread is None or messages is None or "attachments" in code(messages) or unsafe:
            why = f"settings {', '.join(unsafe)} have no one-to-one Responses form" if unsafe else "the thread is not a literal {'messages': [...]} or the assistant is not settings kept in this file"
            self.todo(original, f"create_and_run: {why}; call responses.create(conversation=client.conversations.create().id, input=[messages], **settings)")
            return call
        rest = [a.with_changes(keyword=cst.Name(RUN_MAP[a.keyword.value])) if a.keyword and a.keyword.value in RUN_MAP else a for a in rest]
        target = "responses.parse" if code(spread) in self.ctx.parse_settings else "responses.create"
        self.ctx.settings_exprs.append(code(spread))
        self.done(original, f"create_and_run → {target} on a new conversation")
        conversation = cst.Call(func=attr_chain(client, "conversations.create"))
        return call.with_changes(func=attr_chain(client, target), args=[kw("conversation", cst.Attribute(value=conversation, attr=cst.Name("id"))), kw("input", messages), star(spread), *rest])

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign):
        value = original_node.value.expression if isinstance(original_node.value, cst.Await) else original_node.value
        found = beta_api(value.func) if isinstance(value, cst.Call) else None
        if found and found[1] in ("threads.create_and_run", "threads.create_and_run_poll") and isinstance(original_node.targets[0].target, cst.Name) and len(original_node.targets) == 1:
            self.run_threads.add(original_node.targets[0].target.value)
        return updated_node

    def _create(self, original: cst.Call, call: cst.Call, client, target: str):
        thread = arg(call, "thread_id", 0)
        spread = self._spread(original, arg(call, "assistant_id"))
        unsafe = [name for name in RUN_UNSAFE if arg(call, name) is not None]
        if thread is None or spread is None or unsafe:
            why = f"run settings {', '.join(unsafe)} have no one-to-one Responses form" if unsafe else "the assistant is not settings kept in this file (use `onward migrate convert` and pass **settings)"
            self.todo(original, f"{why}; call responses.create(conversation=thread_id, **settings)")
            return call
        given = arg(call, "additional_messages")
        if given is None:
            self.todo(original, "a run with no new message: responses.create needs input (pass the user's message as input=[...])")
            return call
        rest = []
        for a in others(call, "thread_id", "assistant_id", "additional_messages", positional=1):
            name = a.keyword.value if a.keyword else ""
            if name in RUN_MAP:
                rest.append(a.with_changes(keyword=cst.Name(RUN_MAP[name])))
            elif name in RUN_KEEP:
                rest.append(a)
            else:
                self.todo(original, f"run setting {name}: check its Responses equivalent")
                return call
        if code(spread) in self.ctx.parse_settings:
            target = "responses.parse"  # text_format=<pydantic model>: parsed into output_parsed
        self.ctx.settings_exprs.append(code(spread))
        store = self.ctx.thread_stores.get(code(thread.value))
        if store is not None:  # the thread's attachments: its vector store joins the file_search tool
            s = code(spread)
            spread = expr(f'{{**{s}, "tools": [{{**tool, "vector_store_ids": [*tool["vector_store_ids"], {store}.id]}} if tool["type"] == "file_search" else tool for tool in {s}["tools"]]}}')
        self.done(original, f"runs → {target}(conversation=…)")
        return call.with_changes(func=attr_chain(client, target), args=[kw("conversation", thread.value), kw("input", given.value), star(spread), *rest])

    def _submit(self, original: cst.Call, call: cst.Call, client):
        thread = arg(call, "thread_id")
        outputs = arg(call, "tool_outputs")
        spreads = set(self.ctx.settings_exprs)
        if thread is None or outputs is None or len(spreads) != 1 or arg(call, "stream") is not None:
            self.todo(original, "submit tool outputs: call responses.create(conversation=…, input=[function_call_output items], **settings) with this run's settings")
            return call
        self.done(original, "submit_tool_outputs → responses.create with function_call_output items")
        return call.with_changes(func=attr_chain(client, "responses.create"), args=[kw("conversation", thread.value), kw("input", outputs.value), star(expr(spreads.pop()))])

    # -- run objects -------------------------------------------------------------------
    def leave_Comparison(self, original_node: cst.Comparison, updated_node: cst.Comparison):
        """`run.status == "requires_action"` → `any(item.type == "function_call" for item in run.output)`."""
        left = updated_node.left
        if len(updated_node.comparisons) != 1 or not m.matches(left, m.Attribute(attr=m.Name("status"))):
            return updated_node
        target = updated_node.comparisons[0]
        mentioned = "requires_action" in code(target.comparator)
        if not mentioned:
            return updated_node
        run = code(left.value)  # type: ignore[attr-defined]
        if isinstance(target.operator, cst.Equal | cst.NotEqual) and m.matches(target.comparator, m.SimpleString()):
            pending = expr(f'any(item.type == "function_call" for item in {run}.output)')
            self.done(original_node, "requires_action → function_call items in response.output")
            return pending if isinstance(target.operator, cst.Equal) else expr(f"not {code(pending)}")
        self.todo(original_node, "a run-status test naming requires_action: function calls are response.output items of type function_call")
        return updated_node

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute):
        if m.matches(updated_node, TOOL_CALLS):
            run = code(updated_node.value.value.value)  # type: ignore[attr-defined]
            self.done(original_node, "required_action.submit_tool_outputs.tool_calls → function_call items")
            return expr(FUNCTION_CALLS.format(run=run))
        if updated_node.attr.value in ("prompt_tokens", "completion_tokens") and not self.ctx.chat_completions:
            return updated_node.with_changes(attr=cst.Name("input_tokens" if updated_node.attr.value == "prompt_tokens" else "output_tokens"))
        if m.matches(updated_node, m.Attribute(value=m.Name(), attr=m.Name("id"))) and updated_node.value.value in self.ctx.settings_vars and self.ctx.assistants_converted:  # type: ignore[attr-defined]
            self.done(original_node, "an assistant id → its settings dict")
            return updated_node.value
        if updated_node.attr.value == "thread_id" and isinstance(updated_node.value, cst.Name) and updated_node.value.value in self.run_threads:
            return expr(f"{updated_node.value.value}.conversation.id")
        if updated_node.attr.value == "last_error":
            return updated_node.with_changes(attr=cst.Name("error"))
        return updated_node

    def leave_While(self, original_node: cst.While, updated_node: cst.While):
        """`while run.status not in TERMINAL:` (a status test not naming requires_action) around
        a body that answers requires_action: a response with function calls left is `completed`,
        so the rewritten loop would end before answering them. Flagged, not guessed."""
        test = original_node.test
        if isinstance(test, cst.Comparison) and m.matches(test.left, m.Attribute(attr=m.Name("status"))) and "requires_action" not in code(test) and "requires_action" in code(original_node.body):
            self.todo(original_node, "this loop tests the run status, but a response with function calls left is completed: loop while function_call items remain in its output")
        return super().leave_While(original_node, updated_node)

    def leave_For(self, original_node: cst.For, updated_node: cst.For):
        if m.matches(original_node.iter, TOOL_CALLS) and isinstance(updated_node.target, cst.Name):
            updated_node = updated_node.with_changes(body=updated_node.body.visit(_CallVar(updated_node.target.value)))
        return super().leave_For(original_node, updated_node)

    def leave_ListComp(self, original_node: cst.ListComp, updated_node: cst.ListComp):
        """`[… for call in run.required_action.submit_tool_outputs.tool_calls]`: as in a for loop."""
        comp = original_node.for_in
        if m.matches(comp.iter, TOOL_CALLS) and isinstance(comp.target, cst.Name):
            return updated_node.with_changes(elt=updated_node.elt.visit(_CallVar(comp.target.value)))
        return updated_node

    def leave_DictElement(self, original_node: cst.DictElement, updated_node: cst.DictElement):
        return updated_node

    def leave_Dict(self, original_node: cst.Dict, updated_node: cst.Dict):
        """`{"tool_call_id": id, "output": out}` → a function_call_output item."""
        keys = [e.key.evaluated_value for e in updated_node.elements if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)]
        if "tool_call_id" not in keys:
            return updated_node
        elements: list[cst.BaseDictElement] = [cst.DictElement(cst.SimpleString('"type"'), cst.SimpleString('"function_call_output"'))]
        for e in updated_node.elements:
            if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) and e.key.evaluated_value == "tool_call_id":
                e = e.with_changes(key=cst.SimpleString('"call_id"'))
            elements.append(e.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        self.done(original_node, "tool output → function_call_output item")
        return updated_node.with_changes(elements=elements)
