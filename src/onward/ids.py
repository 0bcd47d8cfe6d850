"""Object ids with OpenAI's prefixes and random URL-safe suffixes."""

import os

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Byte b -> _ALPHABET[b % 62]; bytes 248..255 are dropped (248 = 4 x 62 keeps the symbols even).
_TABLE = bytes(ord(_ALPHABET[b % 62]) for b in range(256))
_DROP = bytes(range(248, 256))


def new_id(prefix: str, length: int = 24) -> str:
    """`new_id("resp")` -> `resp_…`; the prefix `file` takes a dash, as OpenAI's do.

    One read of the OS's randomness per id (not one per character), mapped in C by
    `bytes.translate`: ids are minted several times per request on the hot path. 248 of 256
    byte values map evenly onto 62 symbols."""
    out = os.urandom(length + 8).translate(_TABLE, _DROP)
    while len(out) < length:
        out += os.urandom(length + 8).translate(_TABLE, _DROP)
    sep = "-" if prefix == "file" else "_"
    return f"{prefix}{sep}{out[:length].decode()}"
