"""A container's directory (its /mnt/data) as the server sees it: safe reads that never follow
a link the code made, writes owned by the container's uid, and before/after snapshots."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterable, Iterator
from pathlib import Path, PurePosixPath

from ...errors import invalid
from . import sandbox

MOUNT = "/mnt/data"


def relative(path: str, param: str) -> str:
    """'/mnt/data/a/b.csv' or 'a/b.csv' -> 'a/b.csv'; 400 for anything leaving the directory."""
    p = PurePosixPath(path)
    if p.is_absolute():
        try:
            p = p.relative_to(MOUNT)
        except ValueError:
            raise invalid(f"'{param}' must be a path under {MOUNT}.", param) from None
    if not p.parts or any(part in ("..", ".", "") for part in p.parts) or "\x00" in path:
        raise invalid(f"Invalid file path {path!r}.", param)
    return str(p)


def open_beneath(root: Path, rel: str) -> int:
    """An fd to `root/rel` opened component by component without following any symlink, so
    code in the sandbox cannot point the server at a host file. Raises OSError."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        parts = PurePosixPath(rel).parts
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        out = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(out).st_mode):
        os.close(out)
        raise FileNotFoundError(rel)
    return out


def read_chunks(root: Path, rel: str, size: int = 1 << 16) -> Iterator[bytes]:
    fd = open_beneath(root, rel)
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Regular files under `root` (not following links; hidden names skipped) -> (size, mtime_ns)."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
        for name in filenames:
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out[os.path.relpath(full, root)] = (st.st_size, st.st_mtime_ns)
    return out


async def write(root: Path, rel: str, chunks: AsyncIterable[bytes], container_id: str, max_bytes: int) -> int:
    """Write a file the user gave into the directory (owned by the container's uid)."""
    target = root / rel
    for parent in reversed(target.relative_to(root).parents):
        d = root / parent
        if d.is_symlink():
            raise invalid(f"Invalid file path {rel!r}.", "file")
        d.mkdir(exist_ok=True)
        _own(d, container_id)
    tmp = target.with_name(f".upload-{os.getpid()}-{target.name}")
    size = 0
    try:
        with open(tmp, "xb") as f:  # noqa: ASYNC230 - small local writes between awaits
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise invalid(f"The file is too large: at most {max_bytes} bytes.", "file", "file_too_large")
                f.write(chunk)
        _own(tmp, container_id)
        os.replace(tmp, target)  # replaces a link the code left there, never writes through it
    finally:
        if tmp.exists():
            tmp.unlink()
    return size


def _own(path: Path, container_id: str) -> None:
    if os.geteuid() == 0 and not sandbox.unconfined():
        uid = sandbox.container_uid(container_id)
        os.chown(path, uid, uid)
