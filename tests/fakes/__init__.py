"""Fakes shared by unit tests, end-to-end tests and benchmarks."""

from .upstream import Control, Fault, Received, Reply, ToolCall, start_fake_upstream

__all__ = ["Control", "Fault", "Received", "Reply", "ToolCall", "start_fake_upstream"]
