"""Nightly cost report: walk runs and run steps of known threads and sum their token usage."""

import csv
import sys

from openai import OpenAI

PRICES = {"gpt-4-turbo": (10.0, 30.0), "gpt-4o": (2.5, 10.0)}


def audit(client: OpenAI, thread_ids: list[str]) -> list[dict]:
    rows = []
    for thread_id in thread_ids:
        for run in client.beta.threads.runs.list(thread_id=thread_id, limit=100):  # expect: beta.threads.runs.list
            if run.usage is None:
                continue
            prompt = run.usage.prompt_tokens  # expect: usage.prompt_tokens
            completion = run.usage.completion_tokens  # expect: usage.completion_tokens
            inp, out = PRICES.get(run.model, (0, 0))
            steps = client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=run.id)  # expect: beta.threads.runs.steps.list
            tool_steps = sum(1 for step in steps if step.type == "tool_calls")
            rows.append({
                "thread": thread_id,
                "run": run.id,
                "model": run.model,
                "tool_steps": tool_steps,
                "cost": prompt * inp / 1e6 + completion * out / 1e6,
            })
    return rows


if __name__ == "__main__":
    client = OpenAI()
    ids = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    writer = csv.DictWriter(sys.stdout, fieldnames=["thread", "run", "model", "tool_steps", "cost"])
    writer.writeheader()
    writer.writerows(audit(client, ids))
