"""Per-tenant assistants created in a loop at start-up, tagged with metadata, kept in a dict by
tenant; every request opens a thread, adds the message, runs and reads the reply."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")
TENANTS = [("acme", "Acme Corp"), ("globex", "Globex"), ("initech", "Initech")]

ASSISTANTS = {}
for slug, company in TENANTS:
    ASSISTANTS[slug] = client.beta.assistants.create(
        model=MODEL,
        name=f"{slug}-support",
        instructions=f"You are the support desk of {company}. Answer in one sentence.",
        metadata={"tenant": slug, "tier": "standard"},
    )


def reply(slug, text):
    thread = client.beta.threads.create(metadata={"tenant": slug})
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=text)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=ASSISTANTS[slug].id, max_completion_tokens=16)
    if run.status not in ("completed", "incomplete"):
        raise RuntimeError(f"{slug}: run {run.status}")
    answer = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0]
    return answer.content[0].text.value


answers = {slug: reply(slug, "What are your opening hours?") for slug, _ in TENANTS}
if len(answers) != 3 or not all(answers.values()):
    sys.exit(f"answers {answers}")
if MODEL == "scripted" and set(answers.values()) != {"Hello from the script."}:
    sys.exit(f"answers {answers}")
print(answers)
