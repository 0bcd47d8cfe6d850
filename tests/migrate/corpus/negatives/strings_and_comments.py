"""Mentions of the Assistants API in docs, comments and strings are not call sites."""

# We used to call client.beta.threads.runs.create_and_poll here; see MIGRATION.md.
HELP = "Call client.beta.assistants.create(...) to make an assistant."


def describe() -> str:
    """Formerly: client.beta.threads.messages.list(thread_id)."""
    return HELP
