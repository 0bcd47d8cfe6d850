"""GBNF grammars that keep the embedded model's structured output valid.

llama.cpp samples only tokens a grammar allows, so output generated under one of these always
parses: JSON matching a schema (structured outputs, tool arguments) or one of a fixed set of
strings (a tool name).
"""

from __future__ import annotations

import json
from typing import Any

from llama_cpp.llama_grammar import json_schema_to_gbnf

# The converter lets raw control characters (a literal newline, say) into JSON strings, which
# strict parsers such as `json.loads` reject; llama.cpp's own C++ converter excludes them.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


# Text whose first visible character is not "<": keeps a text answer from opening a tool call.
NO_MARKUP_START = 'root ::= [ \\t\\r\\n]* [^< \\t\\r\\n] [^\\x00]*\n'


class GrammarError(ValueError):
    """A JSON schema the grammar converter cannot handle."""


def json_schema_grammar(schema: dict[str, Any]) -> str:
    """A grammar for JSON text that validates against `schema` (an empty schema: any object)."""
    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema or {"type": "object"}))
    except Exception as exc:  # the converter raises bare Exceptions / KeyErrors / ValueErrors
        raise GrammarError(f"unsupported JSON schema: {exc}") from exc
    return gbnf.replace(_LOOSE_CHAR, _STRICT_CHAR)


def any_object_grammar() -> str:
    """A grammar for any JSON object (the `json_object` text format)."""
    return json_schema_grammar({"type": "object"})


def gbnf_literal(text: str) -> str:
    """`text` as a GBNF string literal (GBNF accepts JSON's escapes)."""
    return json.dumps(text)


def choice_grammar(options: list[str], suffix: str = "") -> str:
    """A grammar matching exactly one of `options`, followed by `suffix`."""
    alternatives = " | ".join(gbnf_literal(option) for option in options)
    tail = f" {gbnf_literal(suffix)}" if suffix else ""
    return f"root ::= ({alternatives}){tail}\n"


# The code_interpreter call's arguments for the embedded model: `{"code": "…"}` whose code is
# one to four simple statements (assignments to a few names, print of arithmetic), so a
# 135M model's call is always syntactically valid, short Python. (Names may still be unbound:
# the NameError is then the call's output.)
CODE_CALL = r"""root ::= "{\"code\": \"" stmt ("\\n" stmt)? ("\\n" stmt)? ("\\n" stmt)? "\"}"
stmt ::= "print(" expr ")" | var " = " expr
expr ::= term (" " op " " term)? (" " op " " term)? (" " op " " term)?
term ::= atom | "(" atom " " op " " atom ")"
atom ::= num | var
num ::= [1-9] [0-9]? [0-9]? [0-9]? | "0"
var ::= "x" | "y" | "total" | "result"
op ::= "+" | "-" | "*" | "/" | "**" | "%"
"""


def code_call_grammar() -> str:
    """The grammar of a code_interpreter call's arguments (see CODE_CALL)."""
    return CODE_CALL
