"""Run llama-cpp-python's own OpenAI-compatible server (the real upstream of the e2e tests)
with llama.cpp's extra weight buffers off, as `onward.providers.local` does: on CPUs with AMX
the Q4_1 SmolLM2 model segfaults in llama.cpp's AMX kernel (llama-cpp-python 0.3.36)."""

import llama_cpp.llama_cpp as lib

_default_params = lib.llama_model_default_params


def _safe_params():
    params = _default_params()
    params.use_extra_bufts = False
    return params


lib.llama_model_default_params = _safe_params

if __name__ == "__main__":
    from llama_cpp.server.__main__ import main

    main()
