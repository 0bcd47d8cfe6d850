"""The Python side of the scanner: a libcst visitor that follows where OpenAI clients live.

A call is an Assistants call when its attribute chain goes through `<client>.beta.<resource>`
and `<client>` is an `OpenAI(...)`/`AsyncOpenAI(...)` instance, a parameter annotated as one, the
`openai` module, or (in a file that imports openai) a name whose origin the file does not show
(`self.client`, an unannotated parameter). A project's own `threads` or `beta` objects never
match: they are not reached through `.beta.` on a client.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ..catalog import event_name, replacement, retired
from . import Finding

CLIENT_CLASSES = {"OpenAI", "AsyncOpenAI", "AzureOpenAI", "AsyncAzureOpenAI"}
HANDLER_CLASSES = {"AssistantEventHandler", "AsyncAssistantEventHandler"}
RESOURCES = {"assistants", "threads", "vector_stores"}
RUN_RESULT_CALLS = ("threads.runs.", "threads.create_and_run")
USAGE_FIELDS = {"prompt_tokens", "completion_tokens"}
BUDGET_KEYWORDS = ("additional_instructions", "truncation_strategy", "max_prompt_tokens")


class _Scope:
    def __init__(self) -> None:
        self.clients: set[str] = set()
        self.aliases: dict[str, str] = {}  # name → `beta.threads`
        self.run_vars: set[str] = set()
        self.loops = 0  # enclosing while loops in this scope
        self.any_loops = 0  # enclosing for/while loops


class _Visitor(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, path: str, lines: list[str], probe: bool = False) -> None:
        self.probe = probe  # only learn whether there is any finding (no positions needed)
        self.hit = False
        self.path = path
        self.lines = lines
        self.findings: list[Finding] = []
        self.imports_openai = False
        self.modules: set[str] = set()  # names bound to the openai module
        self.ctors: set[str] = set()  # names bound to OpenAI client classes
        self.handlers: set[str] = set()
        self.attr_clients: set[str] = set()  # `self.client` style keys, file-wide
        self.scopes = [_Scope()]
        self.docstrings: set[int] = set()

    # -- where names come from ---------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = _dotted_name(alias.name)
            if name == "openai" or name.startswith("openai."):
                self.imports_openai = True
                if alias.asname is not None:
                    self.modules.add(_dotted_name(alias.asname.name))  # type: ignore[arg-type]
                else:
                    self.modules.add("openai")

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = _dotted_name(node.module) if node.module else ""
        if not (module == "openai" or module.startswith("openai.")):
            return
        self.imports_openai = True
        if isinstance(node.names, cst.ImportStar):
            self.ctors |= CLIENT_CLASSES
            self.handlers |= HANDLER_CLASSES
            return
        for alias in node.names:
            name = _dotted_name(alias.name)
            bound = _dotted_name(alias.asname.name) if alias.asname else name  # type: ignore[arg-type]
            if name in CLIENT_CLASSES:
                self.ctors.add(bound)
            elif name in HANDLER_CLASSES:
                self.handlers.add(bound)

    def _is_ctor(self, expr: cst.BaseExpression) -> bool:
        name = _dotted_name(expr)
        if name in self.ctors:
            return True
        head, _, tail = name.rpartition(".")
        return head in self.modules and tail in CLIENT_CLASSES

    def _is_client_value(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, cst.Await):
            expr = expr.expression
        return isinstance(expr, cst.Call) and self._is_ctor(expr.func)

    def _annotation_is_client(self, annotation: cst.Annotation | None) -> bool:
        if annotation is None:
            return False
        expr = annotation.annotation
        if isinstance(expr, cst.SimpleString):
            return str(expr.evaluated_value).split(".")[-1] in CLIENT_CLASSES
        if isinstance(expr, cst.Subscript | cst.BinaryOperation):  # Optional[OpenAI], OpenAI | None
            return any(self._is_ctor(n) for n in _names_in(expr))
        return self._is_ctor(expr)

    # -- scopes ------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = _Scope()
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        for param in params:
            if self._annotation_is_client(param.annotation):
                scope.clients.add(param.name.value)
        self.scopes.append(scope)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_While(self, node: cst.While) -> None:
        self.scopes[-1].loops += 1
        self.scopes[-1].any_loops += 1

    def leave_While(self, original_node: cst.While) -> None:
        self.scopes[-1].loops -= 1
        self.scopes[-1].any_loops -= 1

    def visit_For(self, node: cst.For) -> None:
        self.scopes[-1].any_loops += 1
        iterated = node.iter.expression if isinstance(node.iter, cst.Await) else node.iter
        api = self._api(iterated.func) if isinstance(iterated, cst.Call) else None
        if api and _is_run_result(api) and isinstance(node.target, cst.Name):
            self.scopes[-1].run_vars.add(node.target.value)

    def leave_For(self, original_node: cst.For) -> None:
        self.scopes[-1].any_loops -= 1

    def _lookup_client(self, key: str) -> bool:
        return key in self.modules or key in self.attr_clients or any(key in s.clients for s in self.scopes)

    def _lookup_alias(self, key: str) -> str | None:
        for scope in reversed(self.scopes):
            if key in scope.aliases:
                return scope.aliases[key]
        return None

    def _is_run_var(self, key: str) -> bool:
        return any(key in s.run_vars for s in self.scopes)

    # -- assignments ---------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value)
        elif self._annotation_is_client(node.annotation):
            self._bind_client(node.target)

    def _bind_client(self, target: cst.BaseExpression) -> None:
        key = _dotted_name(target)
        if key.startswith("self.") or key.startswith("cls."):
            self.attr_clients.add(key)
        elif key:
            self.scopes[-1].clients.add(key)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        key = _dotted_name(target)
        if not key:
            return
        if self._is_client_value(value):
            self._bind_client(target)
            return
        if isinstance(value, cst.Attribute):
            path = self._api(value)
            if path:
                self.scopes[-1].aliases[key] = path
                return
        call = value.expression if isinstance(value, cst.Await) else value
        if isinstance(call, cst.Call):
            api = self._api(call.func)
            if api and _is_run_result(api):
                self.scopes[-1].run_vars.add(key)
                return
        self.scopes[-1].run_vars.discard(key)

    # -- what an expression means ----------------------------------------------------------
    def _api(self, expr: cst.BaseExpression) -> str | None:
        """`beta.threads.runs.create` when `expr` is an Assistants SDK attribute path, else None."""
        parts: list[str] = []
        node = expr
        while isinstance(node, cst.Attribute):
            parts.append(node.attr.value)
            node = node.value
        parts.reverse()
        base_key = _dotted_name(node) if isinstance(node, cst.Name) else ""
        alias = self._lookup_alias(base_key) if base_key else None
        if alias:
            return ".".join([alias, *parts]) if parts else None
        # find `.beta.<resource>` after a client expression
        names = base_key.split(".") if base_key else []
        for i, part in enumerate(parts):
            if part != "beta" or i + 1 >= len(parts) or parts[i + 1] not in RESOURCES:
                continue
            base_parts = names + parts[:i]
            if not base_parts and not isinstance(node, cst.Call):
                return None
            if isinstance(node, cst.Call) and not parts[:i]:
                ok = self._is_client_value(node)
            else:
                key = ".".join(base_parts)
                ok = self._lookup_client(key) or (self.imports_openai and not self._known_non_client(key))
            return ".".join(parts[i:]) if ok else None
        return None

    def _known_non_client(self, key: str) -> bool:
        # a name the file binds in this scope to something that is not a client
        return False

    # -- findings ---------------------------------------------------------------------------
    def _add(self, node: cst.CSTNode, api: str, flags: list[str] | None = None, notes: list[str] | None = None) -> None:
        if self.probe:
            self.hit = True
            return
        line = self.get_metadata(PositionProvider, node).start.line
        code = self.lines[line - 1].strip() if line - 1 < len(self.lines) else ""
        self.findings.append(Finding(self.path, line, api, replacement(api), flags or [], notes or [], "python", code))

    def visit_Call(self, node: cst.Call) -> None:
        api = self._api(node.func)
        if not api or api == "beta" or "." not in api:
            return
        flags, notes = self._flags(api, node)
        self._add(node, api, flags, notes)

    def _flags(self, api: str, node: cst.Call) -> tuple[list[str], list[str]]:
        flags: list[str] = []
        notes: list[str] = []
        scope = self.scopes[-1]
        for arg in node.args:
            name = arg.keyword.value if arg.keyword else None
            if name in BUDGET_KEYWORDS:
                flags.append(name)
            if name == "file_ids":
                flags.append("v1_file_ids")
            if name == "model" and isinstance(arg.value, cst.SimpleString):
                model = str(arg.value.evaluated_value)
                gone = retired(model)
                if gone:
                    flags.append("retired_model")
                    notes.append(f"model {model} shuts down {gone.shutdown}: use {gone.replacement}")
        strings = {s.evaluated_value for s in _strings_in(node.args)}
        if "code_interpreter" in strings:
            flags.append("code_interpreter")
        if "retrieval" in strings and api.startswith("beta.assistants"):
            flags.append("v1_retrieval_tool")
        if api.endswith("threads.runs.retrieve") and scope.loops > 0:
            flags.append("run_status_polling")
        if api == "beta.assistants.create" and (len(self.scopes) > 1 or scope.any_loops > 0) and _dynamic(node.args):
            flags.append("per_tenant_assistant")
        return flags, notes

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value not in USAGE_FIELDS or not isinstance(node.value, cst.Attribute):
            return
        usage = node.value
        if usage.attr.value == "usage" and isinstance(usage.value, cst.Name) and self._is_run_var(usage.value.value):
            self._add(node, f"usage.{node.attr.value}")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for base in node.bases:
            name = _dotted_name(base.value)
            head, _, tail = name.rpartition(".")
            if name in self.handlers or (tail in HANDLER_CLASSES and head.split(".")[0] in self.modules):
                self._add(node.name, "AssistantEventHandler")

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.SimpleString | cst.ConcatenatedString):
            self.docstrings.add(id(node.value))

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if id(node) in self.docstrings:
            return
        name = event_name(node.evaluated_value)
        if name:
            self._add(node, f"sse:{name}")


def _is_run_result(api: str) -> bool:
    return any(api.removeprefix("beta.").startswith(p) for p in RUN_RESULT_CALLS)


def _dotted_name(node: cst.CSTNode | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted_name(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def _names_in(node: cst.CSTNode) -> list[cst.BaseExpression]:
    found: list[cst.BaseExpression] = []

    class Collect(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.append(n)

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            found.append(n)
            return False

    node.visit(Collect())
    return found


def _strings_in(args) -> list[cst.SimpleString]:
    found: list[cst.SimpleString] = []

    class Collect(cst.CSTVisitor):
        def visit_SimpleString(self, n: cst.SimpleString) -> None:
            found.append(n)

    for arg in args:
        arg.value.visit(Collect())
    return found


def _dynamic(args) -> bool:
    """Whether any argument value is computed at run time (names other than CONSTANTS, calls,
    f-strings, attributes, subscripts)."""
    dynamic = False

    class Check(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            nonlocal dynamic
            if n.value not in ("True", "False", "None") and not n.value.isupper():
                dynamic = True

        def visit_FormattedString(self, n: cst.FormattedString) -> None:
            nonlocal dynamic
            dynamic = True

    for arg in args:
        arg.value.visit(Check())
    return dynamic


def scan_python(source: bytes, path: str) -> list[Finding]:
    """Findings in one Python file. Raises ValueError when libcst cannot parse it."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise ValueError(f"not valid Python ({exc.message} at line {exc.raw_line})") from exc
    # Positions cost more than the parse; a first pass without them skips files that only
    # mention the API (a string, another project's `beta`), the common case in a large tree.
    probe = _Visitor(path, [], probe=True)
    module.visit(probe)
    if not probe.hit:
        return []
    text = source.decode(module.encoding, errors="replace")
    visitor = _Visitor(path, text.splitlines())
    MetadataWrapper(module, unsafe_skip_copy=True).visit(visitor)
    return sorted(visitor.findings, key=lambda f: (f.line, f.api))
