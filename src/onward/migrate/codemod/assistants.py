"""Assistant creation → Responses settings kept in code (a dict passed as `**settings` to
`responses.create`), tools flattened, `tool_resources` moved onto the tools, `response_format`
→ `text.format`. Rules as in `onward migrate convert` (the guide's concept table)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from .base import Context, Pattern, beta_api, code, dotted, expr

DROPPED = ("name", "description")  # not Responses settings; kept nowhere


def _key(element: cst.BaseDictElement) -> str | None:
    if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
        value = element.key.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _get(d: cst.Dict, name: str) -> cst.BaseExpression | None:
    for e in d.elements:
        if _key(e) == name and isinstance(e, cst.DictElement):
            return e.value
    return None


def flat_tool(d: cst.Dict) -> cst.Dict | None:
    """`{"type": "function", "function": {...}}` → `{"type": "function", ...}` (strict stated);
    other tools unchanged; None when the literal cannot be read."""
    kind = _get(d, "type")
    if not isinstance(kind, cst.SimpleString):
        return None
    if kind.evaluated_value != "function":
        return d
    fn = _get(d, "function")
    if not isinstance(fn, cst.Dict):
        return None
    elements = [e for e in d.elements if _key(e) not in ("function",)]
    inner = [e.with_changes(comma=cst.MaybeSentinel.DEFAULT) for e in fn.elements]
    if _get(fn, "strict") is None:  # unset meant false on Assistants; Responses defaults to strict
        inner.append(cst.DictElement(cst.SimpleString('"strict"'), cst.Name("False")))
    return cst.Dict([*[e.with_changes(comma=cst.MaybeSentinel.DEFAULT) for e in elements], *inner])


def _pydantic_model(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """`M` for `type_to_response_format_param(M)` or a json_schema whose schema is
    `M.model_json_schema()` (a pydantic model), else None."""
    if m.matches(value, m.Call(func=m.Name("type_to_response_format_param") | m.Attribute(attr=m.Name("type_to_response_format_param")), args=[m.Arg(keyword=None)])):
        return value.args[0].value  # type: ignore[attr-defined]
    if isinstance(value, cst.Dict) and isinstance(schema := _get(value, "json_schema"), cst.Dict):
        inner = _get(schema, "schema")
        if inner is not None and m.matches(inner, m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("model_json_schema")), args=[])):
            return inner.func.value  # type: ignore[attr-defined]
    return None


class Assistants(Pattern):
    name = "assistant-settings"

    def __init__(self, ctx: Context, module_dicts: dict[str, cst.Dict]) -> None:
        super().__init__(ctx)
        self.module_dicts = module_dicts  # module-level NAME = {...} literals (tool definitions)
        self.tool_names: set[str] = set()
        self._parse = False  # the assistants.create just left used a pydantic model

    def leave_Await(self, original_node: cst.Await, updated_node: cst.Await):
        """`await client.beta.assistants.create(…)` (async client) → the settings dict, not awaited."""
        if isinstance(original_node.expression, cst.Call) and m.matches(updated_node.expression, m.Call(func=m.Name("dict"))):
            found = beta_api(original_node.expression.func)
            if found and found[1] == "assistants.create":
                return updated_node.expression
        return updated_node

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign):
        value = original_node.value.expression if isinstance(original_node.value, cst.Await) else original_node.value
        if len(updated_node.targets) == 1 and isinstance(value, cst.Call):
            found = beta_api(value.func)
            if found and found[1] == "assistants.create":
                target = dotted(updated_node.targets[0].target)
                if target and "." not in target:
                    self.ctx.settings_vars.add(target)
                    if self._parse:
                        self.ctx.parse_settings.add(target)
        self._parse = False
        return updated_node

    def leave_SimpleStatementLine(self, original_node, updated_node):
        body = original_node.body
        if len(body) == 1 and isinstance(body[0], cst.Expr) and isinstance(body[0].value, cst.Call):
            found = beta_api(body[0].value.func)
            if found and found[1] == "assistants.delete":
                self._pending.pop()
                self.done(original_node, "assistants.delete → nothing (settings live in code)")
                return cst.RemoveFromParent()
        return super().leave_SimpleStatementLine(original_node, updated_node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        found = beta_api(original_node.func)
        if not found:
            if dotted(original_node.func) and ".chat.completions." in (dotted(original_node.func) or ""):
                self.ctx.chat_completions = True
            return updated_node
        _, api = found
        if api in ("assistants.retrieve", "assistants.list", "assistants.update"):
            self.ctx.assistant_sources = True
            self.todo(original_node, f"{api}: assistants are not API objects on Responses; keep the settings in code (`onward migrate convert` writes them from the stored assistant)")
            return updated_node
        if api != "assistants.create":
            return updated_node
        return self._settings(original_node, updated_node)

    def _settings(self, original: cst.Call, call: cst.Call):
        args: list[cst.Arg] = []
        tools: cst.List | None = None
        tools_at: int | None = None
        resources: cst.Dict | None = None
        for a in call.args:
            name = a.keyword.value if a.keyword else None
            if name is None:
                self.todo(original, "assistants.create with positional or ** arguments: build the Responses settings (model, instructions, tools) by hand")
                return call
            if name in DROPPED:
                continue
            if name == "tools":
                if not isinstance(a.value, cst.List):
                    self.todo(original, "tools is not a literal list: flatten function tools ({'type': 'function', 'name', 'parameters', 'strict'}) before passing them to responses.create")
                    return call
                tools = a.value
                tools_at = len(args)
                args.append(a)
                continue
            if name == "tool_resources":
                if not isinstance(a.value, cst.Dict):
                    self.todo(original, "tool_resources is not a literal: move vector_store_ids onto the file_search tool and file_ids into a code_interpreter container")
                    return call
                resources = a.value
                if tools_at is None:
                    tools_at = len(args)
                    args.append(a)
                continue
            if name == "response_format" and (model := _pydantic_model(a.value)) is not None:
                # responses.parse builds the strict schema from the model and fills output_parsed
                args.append(a.with_changes(keyword=cst.Name("text_format"), value=model))
                self._parse = True
                self.ctx.removed_imports.add("type_to_response_format_param")
                continue
            if name == "response_format":
                text = self._text_format(a.value)
                if text is None:
                    self.todo(original, "response_format is not a literal json_schema/json_object: pass text={'format': {'type': 'json_schema', 'name', 'schema', 'strict'}} instead")
                    return call
                args.append(a.with_changes(keyword=cst.Name("text"), value=text))
                continue
            if name in ("model", "instructions", "temperature", "top_p", "metadata"):
                args.append(a)  # as written, its comma and line break included
                continue
            self.todo(original, f"assistants.create({name}=…) has no Responses setting")
            return call
        if tools is not None or resources is not None:
            converted = self._tools(original, tools, resources)
            if converted is None or tools_at is None:
                return call
            args[tools_at] = args[tools_at].with_changes(keyword=cst.Name("tools"), value=converted)
        trailing = bool(call.args) and not isinstance(call.args[-1].comma, cst.MaybeSentinel)
        if args:  # the last argument written may have been dropped: end as the call ended
            args[-1] = args[-1].with_changes(comma=call.args[-1].comma if trailing else cst.MaybeSentinel.DEFAULT)
        self.ctx.assistants_converted = True
        self.done(original, "assistants.create → a dict of responses.create settings")
        return cst.Call(func=cst.Name("dict"), args=args, whitespace_before_args=call.whitespace_before_args)

    def _text_format(self, value: cst.BaseExpression) -> cst.BaseExpression | None:
        if isinstance(value, cst.SimpleString) and value.evaluated_value == "auto":
            return None
        if not isinstance(value, cst.Dict):
            return None
        kind = _get(value, "type")
        if not isinstance(kind, cst.SimpleString):
            return None
        if kind.evaluated_value in ("json_object", "text"):
            return expr(f'{{"format": {code(value)}}}')
        schema = _get(value, "json_schema")
        if kind.evaluated_value != "json_schema" or not isinstance(schema, cst.Dict):
            return None
        flat = cst.Dict([cst.DictElement(cst.SimpleString('"type"'), cst.SimpleString('"json_schema"')), *[e.with_changes(comma=cst.MaybeSentinel.DEFAULT) for e in schema.elements]])
        return expr(f'{{"format": {code(flat)}}}')

    def _tools(self, original: cst.Call, tools: cst.List | None, resources: cst.Dict | None) -> cst.List | None:
        out: list[cst.BaseExpression] = []
        kinds: list[str] = []
        for element in tools.elements if tools is not None else []:
            value = element.value
            if isinstance(value, cst.Name) and value.value in self.module_dicts:
                self.tool_names.add(value.value)  # its definition is flattened where it is assigned
                out.append(value)
                kinds.append("function")
                continue
            if not isinstance(value, cst.Dict) or (flat := flat_tool(value)) is None:
                self.todo(original, f"tool {code(value)} is not a literal: flatten it to the Responses tool shape")
                return None
            kind_node = _get(flat, "type")
            kinds.append(str(kind_node.evaluated_value) if isinstance(kind_node, cst.SimpleString) else "?")
            out.append(flat)
        if resources is not None:
            fs = _get(resources, "file_search")
            ci = _get(resources, "code_interpreter")
            for i, kind in enumerate(kinds):
                if kind == "file_search":
                    ids = _get(fs, "vector_store_ids") if isinstance(fs, cst.Dict) else None
                    if fs is not None and ids is None:
                        self.todo(original, "file_search resources with new vector_stores: create the vector store first (client.vector_stores.create) and pass its id in vector_store_ids")
                        return None
                    out[i] = expr(f'{{"type": "file_search", "vector_store_ids": {code(ids) if ids is not None else "[]"}}}')
                elif kind == "code_interpreter":
                    file_ids = _get(ci, "file_ids") if isinstance(ci, cst.Dict) else None
                    out[i] = expr(f'{{"type": "code_interpreter", "container": {{"type": "auto", "file_ids": {code(file_ids) if file_ids is not None else "[]"}}}}}')
        elif "file_search" in kinds and self.ctx.thread_stores:
            # The file's threads bring their own stores (attachments): runs add them to this tool.
            out[kinds.index("file_search")] = expr('{"type": "file_search", "vector_store_ids": []}')
        elif "file_search" in kinds:
            self.todo(original, "file_search without vector stores: Responses needs vector_store_ids on the tool (attachments used to make a thread store)")
            return None
        for i, kind in enumerate(kinds):
            if kind == "code_interpreter" and resources is None:
                out[i] = expr('{"type": "code_interpreter", "container": {"type": "auto"}}')
        return cst.List([cst.Element(v) for v in out])

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not self.tool_names:
            return updated_node
        body = []
        for stmt in updated_node.body:
            if isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Assign):
                assign = stmt.body[0]
                name = dotted(assign.targets[0].target)
                if name in self.tool_names and isinstance(assign.value, cst.Dict) and (flat := flat_tool(assign.value)) is not None:
                    stmt = stmt.with_changes(body=[assign.with_changes(value=flat)])
            body.append(stmt)
        return updated_node.with_changes(body=body)


def module_dicts(module: cst.Module) -> dict[str, cst.Dict]:
    """Module-level `NAME = {...}` assignments."""
    out: dict[str, cst.Dict] = {}
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Assign):
            assign = stmt.body[0]
            name = dotted(assign.targets[0].target)
            if name and isinstance(assign.value, cst.Dict):
                out[name] = assign.value
    return out
