"""A project with its own `threads`, `runs` and `assistants` names: nothing here is the OpenAI API."""

import threading
from concurrent.futures import ThreadPoolExecutor

from myapp import assistants, threads
from myapp.jobs import runs

pool = ThreadPoolExecutor(4)


class Beta:
    """A feature-flag namespace, not the SDK's."""

    def __init__(self) -> None:
        self.threads = threads
        self.assistants = assistants


beta = Beta()


def start(job):
    run = runs.create(job)            # a variable named run, a module named runs
    while run.status in ("queued", "in_progress"):
        run = runs.retrieve(run.id)   # a polling loop, but not over the Assistants API
    t = threading.Thread(target=job)
    t.start()
    beta.threads.create(name="worker")  # our own Beta object
    assistants.create(name="helper")
    threads.messages.create("hello")
    return run.usage.prompt_tokens      # our own usage object


def chat_usage(client):
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    return completion.usage.prompt_tokens, completion.usage.completion_tokens


def responses_already(client):
    resp = client.responses.create(model="gpt-4o", input="hi")
    client.vector_stores.create(name="docs")
    conv = client.conversations.create()
    return resp.output_text, conv.id


EVENTS = ["thread.started", "thread.finished"]  # our own event names, no SSE parsing here
