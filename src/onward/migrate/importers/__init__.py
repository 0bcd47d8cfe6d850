"""`onward migrate import`: exported Assistants data into Onward, ids preserved.

`stage(paths)` reads every file (formats.py) into a scratch table (staging.py); then
`write_local` (the database, through the store layer) or `write_remote` (any Conversations API
over the official SDK) writes it. Bad lines are reported as FILE:LINE and skipped; the rest
goes in. Re-running adds nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .formats import detect, read
from .staging import Staging


def stage(paths: list[Path], errors: list[str], warnings: list[str], progress: Callable[[int], None] = lambda n: None) -> Staging:
    """Read `paths` into a new Staging; each bad line or object is appended to `errors`, each
    conversion worth knowing (a v1 tool renamed) to `warnings`."""
    staging = Staging()
    for path in paths:
        try:
            detect(path)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        for record in read(path, errors.append):
            staging.add(record)
            warnings.extend(record.warnings)
            progress(1)
    staging.done_adding()
    warnings.extend(staging.duplicates)
    return staging


__all__ = ["Staging", "detect", "read", "stage"]
