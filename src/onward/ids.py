"""Object ids with OpenAI's prefixes and random URL-safe suffixes."""

import secrets

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_id(prefix: str, length: int = 24) -> str:
    """`new_id("resp")` -> `resp_…`; the prefix `file` takes a dash, as OpenAI's do."""
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    sep = "-" if prefix == "file" else "_"
    return f"{prefix}{sep}{suffix}"
