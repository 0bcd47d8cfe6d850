"""The JavaScript/TypeScript side of the scanner, on tree-sitter's grammars.

Same rule as for Python: a call is an Assistants call when its member chain goes through
`<client>.beta.<resource>`, `<client>` being a `new OpenAI(...)`, a parameter typed `OpenAI`, or
(in a file that imports "openai") a name whose origin the file does not show.
"""

from __future__ import annotations

from functools import cache

import tree_sitter as ts

from ..catalog import event_name, replacement, retired, snake
from . import Finding

RESOURCES = {"assistants", "threads", "vectorStores", "vector_stores"}
CLIENT_CLASSES = {"OpenAI", "AzureOpenAI"}
RUN_RESULT_PREFIXES = ("threads.runs.", "threads.create_and_run")
USAGE_FIELDS = {"prompt_tokens", "completion_tokens"}
BUDGET_KEYWORDS = ("additional_instructions", "truncation_strategy", "max_prompt_tokens")
FUNCTIONS = {"function_declaration", "function_expression", "arrow_function", "method_definition", "generator_function_declaration"}
LOOPS = {"while_statement", "do_statement", "for_statement", "for_in_statement"}


@cache
def _parser(kind: str) -> ts.Parser:
    if kind == "javascript":
        import tree_sitter_javascript as grammar

        return ts.Parser(ts.Language(grammar.language()))
    import tree_sitter_typescript as tsgrammar

    return ts.Parser(ts.Language(tsgrammar.language_tsx() if kind == "tsx" else tsgrammar.language_typescript()))


def _text(node: ts.Node) -> str:
    return node.text.decode("utf-8", errors="replace") if node.text is not None else ""


def _string_value(node: ts.Node) -> str | None:
    if node.type != "string":
        return None
    return "".join(_text(c) for c in node.children if c.type == "string_fragment")


class _Scanner:
    def __init__(self, root: ts.Node, path: str, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.findings: list[Finding] = []
        self.ctors: set[str] = set()
        self.clients: set[str] = set()  # file-wide: JS code passes clients around freely
        self.run_vars: set[str] = set()
        self.imports_openai = False
        self._imports(root)

    # -- where names come from ------------------------------------------------------------
    def _imports(self, root: ts.Node) -> None:
        for node in _walk(root):
            if node.type == "import_statement":
                source = node.child_by_field_name("source")
                if source is None or _string_value(source) not in ("openai",) and not (_string_value(source) or "").startswith("openai/"):
                    continue
                self.imports_openai = True
                for sub in _walk(node):
                    if sub.type == "identifier" and sub.parent is not None and sub.parent.type in ("import_clause", "import_specifier", "namespace_import"):
                        name = _text(sub)
                        original = sub.parent.child_by_field_name("name") if sub.parent.type == "import_specifier" else None
                        if sub.parent.type == "import_clause" or (original is not None and _text(original) in CLIENT_CLASSES) or name in CLIENT_CLASSES:
                            self.ctors.add(name)
                        if sub.parent.type == "namespace_import":
                            self.ctors.add(name + ".OpenAI")
            elif node.type == "call_expression" and _text(node.child_by_field_name("function") or node) == "require":
                args = node.child_by_field_name("arguments")
                if args is not None and any(_string_value(a) == "openai" for a in args.named_children):
                    self.imports_openai = True
                    declarator = node.parent
                    if declarator is not None and declarator.type == "variable_declarator":
                        target = declarator.child_by_field_name("name")
                        if target is not None:
                            for ident in _walk(target):
                                if ident.type in ("identifier", "shorthand_property_identifier_pattern"):
                                    self.ctors.add(_text(ident))

    def _is_client_value(self, node: ts.Node | None) -> bool:
        while node is not None and node.type in ("await_expression", "parenthesized_expression"):
            node = node.named_children[0] if node.named_children else None
        if node is None or node.type != "new_expression":
            return False
        ctor = node.child_by_field_name("constructor")
        return ctor is not None and (_text(ctor) in self.ctors or _text(ctor).split(".")[-1] in CLIENT_CLASSES and self.imports_openai)

    # -- the walk -----------------------------------------------------------------------------
    def run(self, root: ts.Node) -> None:
        self._visit(root, loops=0, in_function=False)

    def _visit(self, node: ts.Node, loops: int, in_function: bool) -> None:
        kind = node.type
        if kind in FUNCTIONS:
            in_function, loops = True, 0
            self._typed_params(node)
        elif kind in LOOPS:
            loops += 1
        if kind == "variable_declarator":
            self._bind(node.child_by_field_name("name"), node.child_by_field_name("value"))
        elif kind == "assignment_expression":
            self._bind(node.child_by_field_name("left"), node.child_by_field_name("right"))
        elif kind == "call_expression":
            self._call(node, loops, in_function)
        elif kind == "member_expression":
            self._usage(node)
        elif kind == "string":
            name = event_name(_string_value(node))
            if name:
                self._add(node, f"sse:{name}")
        for child in node.children:
            self._visit(child, loops, in_function)

    def _typed_params(self, fn: ts.Node) -> None:
        params = fn.child_by_field_name("parameters")
        if params is None:
            return
        for param in params.named_children:
            pattern = param.child_by_field_name("pattern")
            annotation = param.child_by_field_name("type")
            if pattern is not None and annotation is not None and _text(annotation).lstrip(": ").split(".")[-1] in CLIENT_CLASSES:
                self.clients.add(_text(pattern))

    def _bind(self, target: ts.Node | None, value: ts.Node | None) -> None:
        if target is None or value is None:
            return
        key = _text(target)
        if self._is_client_value(value):
            self.clients.add(key)
            return
        call = value
        while call.type in ("await_expression", "parenthesized_expression") and call.named_children:
            call = call.named_children[0]
        if call.type == "call_expression":
            api = self._api(call.child_by_field_name("function"))
            if api and snake(api.removeprefix("beta.")).startswith(RUN_RESULT_PREFIXES):
                self.run_vars.add(key)

    def _api(self, fn: ts.Node | None) -> str | None:
        """`beta.threads.runs.createAndPoll` when `fn` is an Assistants SDK member chain."""
        parts: list[str] = []
        node = fn
        while node is not None and node.type == "member_expression":
            prop = node.child_by_field_name("property")
            parts.append(_text(prop) if prop is not None else "")
            node = node.child_by_field_name("object")
        if node is None:
            return None
        parts.reverse()
        for i, part in enumerate(parts):
            if part != "beta" or i + 1 >= len(parts) or parts[i + 1] not in RESOURCES:
                continue
            if node.type == "new_expression" and i == 0:
                ok = self._is_client_value(node)
            elif node.type in ("identifier", "this"):
                key = ".".join([_text(node), *parts[:i]])
                ok = key in self.clients or self.imports_openai
            else:
                ok = False
            return ".".join(parts[i:]) if ok else None
        return None

    # -- findings -------------------------------------------------------------------------------
    def _add(self, node: ts.Node, api: str, flags: list[str] | None = None, notes: list[str] | None = None) -> None:
        line = node.start_point[0] + 1
        code = self.lines[line - 1].strip() if line - 1 < len(self.lines) else ""
        self.findings.append(Finding(self.path, line, api, replacement(api, "typescript"), flags or [], notes or [], "typescript", code))

    def _call(self, node: ts.Node, loops: int, in_function: bool) -> None:
        api = self._api(node.child_by_field_name("function"))
        if not api:
            return
        flags: list[str] = []
        notes: list[str] = []
        args = node.child_by_field_name("arguments")
        dynamic = False
        for sub in _walk(args) if args is not None else []:
            if sub.type == "pair":
                key = sub.child_by_field_name("key")
                value = sub.child_by_field_name("value")
                name = _string_value(key) if key is not None and key.type == "string" else (_text(key) if key is not None else "")
                if name in BUDGET_KEYWORDS:
                    flags.append(name)
                if name == "file_ids" and api.startswith(("beta.assistants", "beta.threads.messages")):
                    flags.append("v1_file_ids")
                if name == "model" and value is not None and value.type == "string":
                    gone = retired(_string_value(value) or "")
                    if gone:
                        flags.append("retired_model")
                        notes.append(f"model {_string_value(value)} shuts down {gone.shutdown}: use {gone.replacement}")
                if value is not None and value.type not in ("string", "number", "true", "false", "null", "object", "array"):
                    dynamic = True
            elif sub.type == "string" and _string_value(sub) == "code_interpreter" and "code_interpreter" not in flags:
                flags.append("code_interpreter")
            elif sub.type == "template_string":
                dynamic = True
        short = snake(api.removeprefix("beta."))
        if short == "threads.runs.retrieve" and loops > 0:
            flags.append("run_status_polling")
        if short == "assistants.create" and (in_function or loops) and dynamic:
            flags.append("per_tenant_assistant")
        self._add(node, api, flags, notes)

    def _usage(self, node: ts.Node) -> None:
        prop = node.child_by_field_name("property")
        obj = node.child_by_field_name("object")
        if prop is None or obj is None or _text(prop) not in USAGE_FIELDS or obj.type != "member_expression":
            return
        usage_prop = obj.child_by_field_name("property")
        owner = obj.child_by_field_name("object")
        if usage_prop is not None and _text(usage_prop) == "usage" and owner is not None and _text(owner) in self.run_vars:
            self._add(node, f"usage.{_text(prop)}")


def _walk(node: ts.Node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def scan_javascript(source: bytes, path: str, *, typescript: bool, tsx: bool = False) -> list[Finding]:
    """Findings in one JS/TS file. tree-sitter recovers from syntax errors, so a broken file
    still yields what its readable parts hold."""
    kind = "tsx" if tsx else "typescript" if typescript else "javascript"
    tree = _parser(kind).parse(source)
    scanner = _Scanner(tree.root_node, path, source.decode("utf-8", errors="replace").splitlines())
    scanner.run(tree.root_node)
    return sorted(scanner.findings, key=lambda f: (f.line, f.api))
