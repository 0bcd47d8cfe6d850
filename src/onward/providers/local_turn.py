"""One turn on the embedded model, in its worker thread: sampling under the plan's grammars,
the text stream (held back where a `<tool_call>` may be starting), the call, log-probabilities."""

from __future__ import annotations

import codecs
import json
import threading
from collections.abc import Callable, Generator
from contextlib import closing
from typing import Any

from ..ids import new_id
from .base import Finish, ModelEvent, TextDelta, TokenLogprob, ToolCallDelta, ToolCallStart, Usage
from .local_plan import Plan
from .local_prompt import TOOL_OPEN
from .logprobs import from_logits

# Without a penalty (llama.cpp's default is 1.0) this 135M model often counts or repeats
# forever; 1.1 stopped that in every trial and changes nothing else we test.
REPEAT_PENALTY = 1.1


# --------------------------------------------------------------------------- generation


class Generation:
    """One turn's context on the model: the prompt, then everything the assistant has said.

    Runs in the worker thread, holding the model lock.
    """

    def __init__(self, llm: Any, plan: Plan, n_ctx: int, cancelled: threading.Event) -> None:
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
                if grammar is None and (len(self.tokens) - self.prompt_len) % 8 == 0 and looping(self.tokens, self.prompt_len):
                    return  # a degenerate loop: end the turn as the model should have


    def _logprob(self, token: int, text: str, raw: bytes) -> TokenLogprob:
        """From the logits the token was just sampled from: they are still the context's last
        (the token is evaluated on the next step), so no `logits_all` is needed."""
        import llama_cpp.llama_cpp as lib
        import numpy as np

        llm = self.llm
        logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
        return from_logits(logits, token, text, raw, self.plan.top_logprobs or 0, lambda i: llm.detokenize([i]))


def looping(tokens: list[int], start: int, times: int = 5, longest: int = 48) -> bool:
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


class Turn:
    """Runs a plan on the model and emits the turn's events (in the worker thread)."""

    def __init__(self, gen: Generation, emit: Callable[[ModelEvent], None]) -> None:
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

