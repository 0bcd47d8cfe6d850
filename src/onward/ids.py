"""Object ids with OpenAI's prefixes and random URL-safe suffixes."""

import os

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_id(prefix: str, length: int = 24) -> str:
    """`new_id("resp")` -> `resp_…`; the prefix `file` takes a dash, as OpenAI's do.

    One read of the OS's randomness per id (not one per character): ids are minted several
    times per request on the hot path. 248 of 256 byte values map evenly onto 62 symbols."""
    out: list[str] = []
    while len(out) < length:
        out.extend(_ALPHABET[b % 62] for b in os.urandom(length + 8) if b < 248)
    sep = "-" if prefix == "file" else "_"
    return f"{prefix}{sep}{''.join(out[:length])}"
