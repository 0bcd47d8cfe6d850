"""One assistant per tenant, created on demand and cached by tenant name."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")
TENANTS = {"acme": "You answer for Acme.", "globex": "You answer for Globex."}
_assistants = {}


def assistant_for(tenant):
    if tenant not in _assistants:
        _assistants[tenant] = client.beta.assistants.create(model=MODEL, name=f"support-{tenant}", instructions=TENANTS[tenant])
    return _assistants[tenant]


def answer(tenant, question):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_for(tenant).id, max_completion_tokens=16)
    if run.status not in ("completed", "incomplete"):
        raise RuntimeError(run.status)
    return client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0].content[0].text.value


replies = {tenant: answer(tenant, "Who are you?") for tenant in TENANTS}
if not all(replies.values()) or len(_assistants) != 2:
    sys.exit(f"replies {replies}")
print(replies)
