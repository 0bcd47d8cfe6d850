"""Fakes shared by unit tests, end-to-end tests and benchmarks.

Names are loaded lazily so that `python -m tests.fakes.upstream` does not import the module twice.
"""

from typing import Any

__all__ = ["Control", "Fault", "Received", "Reply", "ToolCall", "start_fake_upstream"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import upstream

        return getattr(upstream, name)
    raise AttributeError(name)
