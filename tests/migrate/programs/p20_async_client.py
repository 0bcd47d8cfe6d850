"""The async client: several questions answered concurrently with asyncio.gather, each on its
own thread, awaiting each call (threads, runs polled to the end, messages)."""

import asyncio
import os
import sys

from openai import AsyncOpenAI

client = AsyncOpenAI()
MODEL = os.environ.get("MODEL", "scripted")


async def ask(assistant_id: str, question: str) -> str:
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": question}])
    run = await client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id, max_completion_tokens=16)
    if run.status not in ("completed", "incomplete"):
        raise RuntimeError(f"run {run.status}")
    page = await client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1)
    return page.data[0].content[0].text.value


async def main() -> int:
    assistant = await client.beta.assistants.create(model=MODEL, instructions="Answer in five words.")
    questions = ["Name a colour.", "Name a fruit.", "Name a city."]
    answers = await asyncio.gather(*(ask(assistant.id, q) for q in questions))
    if len(answers) != 3 or not all(answers):
        print(f"answers {answers}")
        return 1
    if MODEL == "scripted" and answers != ["Hello from the script."] * 3:
        print(f"answers {answers}")
        return 1
    print(answers)
    return 0


sys.exit(asyncio.run(main()))
