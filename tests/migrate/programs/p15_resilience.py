"""Resilience: a client with retries, a run whose failure is read from its status, a cancel."""

import os
import sys

import openai
from openai import OpenAI

client = OpenAI(max_retries=3, timeout=60)
MODEL = os.environ.get("MODEL", "scripted")

assistant = client.beta.assistants.create(model=MODEL)
thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say something short."}])
try:
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=16)
except openai.RateLimitError:
    sys.exit("rate limited after retries")
if run.status == "failed":
    sys.exit(f"failed: {run.last_error.code} {run.last_error.message}")
if run.status not in ("completed", "incomplete"):
    sys.exit(f"run {run.status}")
try:
    client.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id)
except openai.BadRequestError:
    pass  # a finished run cannot be cancelled
else:
    sys.exit("cancelling a finished run should be refused")
print("ok")
