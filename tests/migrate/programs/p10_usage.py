"""Cost accounting from run usage (prompt/completion tokens)."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")
PRICE_IN, PRICE_OUT = 0.15, 0.60  # USD per million tokens

assistant = client.beta.assistants.create(model=MODEL)
thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hi."}])
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=16)
usage = run.usage
cost = (usage.prompt_tokens * PRICE_IN + usage.completion_tokens * PRICE_OUT) / 1e6
if usage.prompt_tokens <= 0 or usage.completion_tokens <= 0 or usage.total_tokens != usage.prompt_tokens + usage.completion_tokens:
    sys.exit(f"usage {usage}")
print(f"{usage.prompt_tokens} in, {usage.completion_tokens} out, ${cost:.8f}")
