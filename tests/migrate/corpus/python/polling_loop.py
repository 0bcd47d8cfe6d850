"""Pre-helper style: create a run, then poll its status by hand until it settles."""

import time

import openai

openai.api_key = "sk-..."
client = openai.OpenAI()

ASSISTANT_ID = "asst_abc123"


def ask(question: str) -> str:
    thread = client.beta.threads.create(  # expect: beta.threads.create
        messages=[{"role": "user", "content": question}]
    )
    run = client.beta.threads.runs.create(  # expect: beta.threads.runs.create [truncation_strategy, max_prompt_tokens]
        thread_id=thread.id,
        assistant_id=ASSISTANT_ID,
        truncation_strategy={"type": "last_messages", "last_messages": 10},
        max_prompt_tokens=20000,
    )
    while run.status in ("queued", "in_progress", "cancelling"):
        time.sleep(1)
        run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)  # expect: beta.threads.runs.retrieve [run_status_polling]
    if run.status != "completed":
        raise RuntimeError(f"run ended {run.status}: {run.last_error}")
    print("tokens:", run.usage.prompt_tokens, run.usage.completion_tokens)  # expect: usage.prompt_tokens; usage.completion_tokens
    page = client.beta.threads.messages.list(thread_id=thread.id, order="asc")  # expect: beta.threads.messages.list
    return page.data[-1].content[0].text.value


if __name__ == "__main__":
    print(ask("What is the capital of Norway?"))
