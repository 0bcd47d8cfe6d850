"""Onward: a self-hosted OpenAI-compatible server (Responses API + Assistants API v2)."""

__version__ = "0.1.0"
