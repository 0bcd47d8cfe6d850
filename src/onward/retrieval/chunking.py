"""Token chunking: fixed windows of `max_chunk_size_tokens` that overlap by
`chunk_overlap_tokens`, counted with the o200k vocabulary (bpe-openai, tiktoken's API)."""

from __future__ import annotations

import functools
import warnings
from typing import Any

from ..errors import APIError, invalid

AUTO = {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}
MIN_TOKENS, MAX_TOKENS = 100, 4096
_PIECE = 40_000  # characters per encode call: bpe_openai refuses very long inputs


@functools.cache
def encoder() -> Any:
    with warnings.catch_warnings():  # bpe_openai uses a deprecated importlib.resources call
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")


def resolve_strategy(raw: Any, param: str = "chunking_strategy") -> dict[str, Any]:
    """Validate a request's chunking strategy and return the stored (response) form:
    `{"type": "static", "static": {"max_chunk_size_tokens", "chunk_overlap_tokens"}}`."""
    if raw is None:
        return {"type": "static", "static": dict(AUTO)}
    if not isinstance(raw, dict):
        raise invalid(f"Invalid type for '{param}': expected an object.", param, "invalid_type")
    kind = raw.get("type")
    if kind == "auto":
        _no_extra(raw, {"type"}, param)
        return {"type": "static", "static": dict(AUTO)}
    if kind != "static":
        raise invalid(f"Invalid value for '{param}.type': {kind!r}. Supported values are: 'auto' and 'static'.", f"{param}.type")
    _no_extra(raw, {"type", "static"}, param)
    static = raw.get("static")
    if not isinstance(static, dict):
        raise invalid(f"Missing required parameter: '{param}.static'.", f"{param}.static", "missing_required_parameter")
    _no_extra(static, {"max_chunk_size_tokens", "chunk_overlap_tokens"}, f"{param}.static")
    size = _int(static, "max_chunk_size_tokens", f"{param}.static")
    overlap = _int(static, "chunk_overlap_tokens", f"{param}.static")
    if not MIN_TOKENS <= size <= MAX_TOKENS:
        raise invalid(
            f"Invalid '{param}.static.max_chunk_size_tokens': {size}. It must be between {MIN_TOKENS} and {MAX_TOKENS}.",
            f"{param}.static.max_chunk_size_tokens",
        )
    if overlap < 0 or overlap > size // 2:
        raise invalid(
            f"Invalid '{param}.static.chunk_overlap_tokens': {overlap}. It must be between 0 and half of max_chunk_size_tokens ({size // 2}).",
            f"{param}.static.chunk_overlap_tokens",
        )
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


def _no_extra(obj: dict[str, Any], allowed: set[str], param: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise invalid(f"Unknown parameter: '{param}.{extra[0]}'.", f"{param}.{extra[0]}", "unknown_parameter")


def _int(obj: dict[str, Any], key: str, param: str) -> int:
    if key not in obj:
        raise invalid(f"Missing required parameter: '{param}.{key}'.", f"{param}.{key}", "missing_required_parameter")
    value = obj[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise APIError(400, f"Invalid type for '{param}.{key}': expected an integer.", param=f"{param}.{key}", code="invalid_type")
    return value


def tokenize(text: str) -> list[int]:
    """All tokens of `text`, encoded piece by piece (pieces end at whitespace where possible)."""
    encode = encoder().encode_ordinary
    tokens: list[int] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + _PIECE)
        if end < len(text):
            cut = text.rfind(" ", start + _PIECE // 2, end)
            end = cut if cut > start else end
        tokens.extend(encode(text[start:end]))
        start = end
    return tokens


def chunk_text(text: str, max_tokens: int, overlap: int) -> list[str]:
    """Split into windows of at most `max_tokens` tokens, each starting `max_tokens - overlap`
    tokens after the previous one. Empty or blank text gives no chunks."""
    if not text.strip():
        return []
    if overlap >= max_tokens:
        raise ValueError("overlap must be smaller than the chunk size")
    tokens = tokenize(text)
    decode = encoder().decode_bytes
    step = max_tokens - overlap
    chunks: list[str] = []
    for start in range(0, len(tokens), step):
        window = tokens[start : start + max_tokens]
        # a window may cut a multi-byte character: drop the broken bytes at either end
        piece = decode(window).decode("utf-8", errors="ignore").strip()
        if piece:
            chunks.append(piece)
        if start + max_tokens >= len(tokens):
            break
    return chunks
