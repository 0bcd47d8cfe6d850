"""How the embedded model answers a turn: text, a tool call, or text that may open one.

Structure is enforced with grammars (see `grammars.py`), never hoped for:

* `text.format` json_schema / json_object: the whole answer is sampled under a JSON grammar.
* tool calls use the Hermes convention the SmolLM2 family knows,
  `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`. Once a call is under way the
  name is sampled under a grammar of the allowed names and the arguments under a grammar built
  from that tool's `parameters` schema, so a call always parses and matches.
* `tool_choice="auto"`: a 135M model barely knows when to call a tool, so the decision has two
  routes. If the latest user message names a tool's subject (a word of its name, say "weather"
  for `get_weather`), the turn is a call to one of those tools. Otherwise the model answers
  freely, and if it opens `<tool_call>` itself the call is finished under the grammars. Once a
  tool result follows the latest user message, the turn answers in text (see `answered`).
* `allowed_tools`: the prompt and the grammars hold only the listed tools (`offered_tools`).
* One call per turn at most, whatever `parallel_tool_calls` says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .base import ModelRequest, ProviderError
from .chat_format import to_chat_messages

# Sampling the SmolLM2 model card recommends; used when the request leaves them unset.
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9

Mode = Literal["text", "auto", "call"]


# --------------------------------------------------------------------------- the tool decision

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# Verbs that name no subject: "send" in send_email would route "send me a poem" to email.
_GENERIC = frozenset(
    "get set fetch list create update delete remove add make find run call do retrieve query "
    "check send read write show lookup look search compute calculate tool function info data "
    "current".split()
)


def _words(text: str) -> set[str]:
    words = (w.lower() for w in _WORD.findall(text))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if len(w) > 2}


def _subject_words(name: str) -> set[str]:
    words = _words(name)
    return (words - _GENERIC) or words


def tools_named_by_user(request: ModelRequest, tools: list[dict[str, Any]]) -> list[str]:
    """Tools whose subject the latest user message names, when the turn answers a user message.

    After a tool result the model should use it, so no tool is pushed then.
    """
    last = request.input[-1] if request.input else {}
    if last.get("type", "message") != "message" or last.get("role", "user") != "user":
        return []
    said = _words(str(to_chat_messages(ModelRequest(model="", input=[last]), rich=False)[0]["content"]))
    scores = {t["name"]: len(_subject_words(t["name"]) & said) for t in tools}
    best = max(scores.values(), default=0)
    return [name for name, score in scores.items() if best and score == best]


def answered(items: list[dict[str, Any]]) -> bool:
    """Whether a tool result has come in since the latest user message.

    The embedded model's `auto` rule (a forcing tool_choice is obeyed regardless): a tool
    result answers the question that called for it, so the turns after it answer in text, and a
    new user message starts a new question. The model's own `<tool_call>` is not trusted here:
    shown a call in its history it writes one again almost every time (after a weather result,
    8 of 9 trials at temperatures 0-0.7 opened a call even with get_weather withheld, naming the
    only other tool), so "a call for a different need" would nearly always be a wrong call.
    """
    for item in reversed(items):
        kind = item.get("type", "message")
        if kind == "function_call_output":
            return True
        if kind == "message" and item.get("role", "user") == "user":
            return False
    return False


# --------------------------------------------------------------------------- planning


@dataclass
class Plan:
    mode: Mode
    prompt_tokens: list[int]
    candidates: list[str] = field(default_factory=list)  # tools a call may name
    arg_grammars: dict[str, str] = field(default_factory=dict)
    text_grammar: str | None = None  # JSON grammar for the answer's text
    bar_calls: bool = False  # a text answer must not open with "<tool_call>"
    max_tokens: int = 0
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    top_logprobs: int | None = None  # None: no log-probabilities wanted


def choose_mode(
    request: ModelRequest, tools: list[dict[str, Any]], keyword_routing: bool
) -> tuple[Mode, list[str]]:
    """How the turn answers, and the tools a call may name."""
    choice = request.tool_choice
    names = [t["name"] for t in tools]
    if isinstance(choice, dict):
        name = choice.get("name")
        if choice.get("type") != "function" or name not in names:
            raise ProviderError(
                f"tool_choice names no function tool of this request: {name!r}",
                code="invalid_request_error",
                status=400,
                param="tool_choice",
            )
        return "call", [str(name)]
    if not tools or choice == "none":
        return "text", []
    if choice == "required":
        return "call", names
    if answered(request.input):
        return "text", []
    routed = tools_named_by_user(request, tools) if keyword_routing else []
    if routed:
        return "call", routed
    # A JSON answer starts with "{", so the model cannot open a call itself.
    json_answer = (request.text_format or {}).get("type") in ("json_object", "json_schema")
    return ("text" if json_answer else "auto"), names


def text_format_grammar(text_format: dict[str, Any] | None) -> str | None:
    from .grammars import GrammarError, any_object_grammar, json_schema_grammar

    kind = (text_format or {}).get("type")
    try:
        if kind == "json_object":
            return any_object_grammar()
        if kind == "json_schema":
            return json_schema_grammar((text_format or {}).get("schema") or {})
    except GrammarError as exc:
        raise ProviderError(
            str(exc), code="invalid_request_error", status=400, param="text.format.schema"
        ) from exc
    return None


def arg_grammars(tools: list[dict[str, Any]], names: list[str]) -> dict[str, str]:
    from .grammars import GrammarError, code_call_grammar, json_schema_grammar

    grammars = {}
    for tool in tools:
        if tool["name"] == "code_interpreter" and tool["name"] in names and list((tool.get("parameters") or {}).get("properties") or {}) == ["code"]:
            grammars[tool["name"]] = code_call_grammar()  # the hosted tool: valid Python, not any string
        elif tool["name"] in names:
            try:
                grammars[tool["name"]] = json_schema_grammar(tool.get("parameters") or {})
            except GrammarError as exc:
                raise ProviderError(
                    f"tool {tool['name']}: {exc}", code="invalid_request_error", status=400, param="tools"
                ) from exc
    return grammars
