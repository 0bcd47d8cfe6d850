"""A Flask-style chat endpoint module: one assistant made at import, the thread id of each
session kept in a dict, a handler function per request returning a JSON-able dict."""

import os
import sys

from openai import OpenAI

client = OpenAI()
MODEL = os.environ.get("MODEL", "scripted")
SESSIONS: dict[str, str] = {}

assistant = client.beta.assistants.create(model=MODEL, name="web-chat", instructions="You are a helpful shop assistant. Be brief.")


def thread_for(session_id: str) -> str:
    if session_id not in SESSIONS:
        SESSIONS[session_id] = client.beta.threads.create().id
    return SESSIONS[session_id]


def handle_chat(request: dict) -> dict:
    thread_id = thread_for(request["session"])
    client.beta.threads.messages.create(thread_id=thread_id, role="user", content=request["message"])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant.id, max_completion_tokens=24)
    if run.status not in ("completed", "incomplete"):
        return {"status": 502, "error": run.status}
    latest = client.beta.threads.messages.list(thread_id=thread_id, order="desc", limit=1)
    return {"status": 200, "reply": latest.data[0].content[0].text.value}


def handle_history(request: dict) -> dict:
    thread_id = SESSIONS[request["session"]]
    messages = client.beta.threads.messages.list(thread_id=thread_id, order="asc")
    return {"status": 200, "messages": [{"role": m.role, "text": m.content[0].text.value} for m in messages.data]}


for session, message in [("s1", "Do you sell umbrellas?"), ("s2", "Hi there"), ("s1", "How much are they?")]:
    response = handle_chat({"session": session, "message": message})
    if response["status"] != 200 or not response["reply"]:
        sys.exit(f"{session}: {response}")
history = handle_history({"session": "s1"})["messages"]
if [m["role"] for m in history] != ["user", "assistant", "user", "assistant"] or history[2]["text"] != "How much are they?":
    sys.exit(f"history {history}")
if len(SESSIONS) != 2 or len(handle_history({"session": "s2"})["messages"]) != 2:
    sys.exit(f"sessions {SESSIONS}")
print("ok", len(history))
