"""Code that keeps the beta namespace in a variable, or receives the client as a parameter."""

import openai
from openai import OpenAI as _OpenAI

oai = _OpenAI(api_key="sk-...")
threads_api = oai.beta.threads  # an alias is not a call: its calls are findings


def new_conversation(first: str) -> str:
    thread = threads_api.create(messages=[{"role": "user", "content": first}])  # expect: beta.threads.create
    return thread.id


def cancel_everything(client: openai.OpenAI, thread_id: str) -> None:
    for run in client.beta.threads.runs.list(thread_id):  # expect: beta.threads.runs.list
        if run.status in ("queued", "in_progress", "requires_action"):
            client.beta.threads.runs.cancel(run.id, thread_id=thread_id)  # expect: beta.threads.runs.cancel


def forget(thread_id: str) -> None:
    openai.beta.threads.delete(thread_id)  # expect: beta.threads.delete
