"""A Flask proxy that streams runs with raw HTTP and parses the SSE by hand (no SDK helpers)."""

import json
import os

import httpx
from flask import Flask, Response, request

app = Flask(__name__)
HEADERS = {"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}", "OpenAI-Beta": "assistants=v2"}


@app.post("/chat/<thread_id>")
def chat(thread_id: str):
    body = {"assistant_id": os.environ["ASSISTANT_ID"], "stream": True, "additional_messages": [{"role": "user", "content": request.json["text"]}]}

    def generate():
        with httpx.stream("POST", f"https://api.openai.com/v1/threads/{thread_id}/runs", json=body, headers=HEADERS, timeout=None) as r:
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[len("event: "):]
                elif line.startswith("data: ") and event == "thread.message.delta":  # expect: sse:thread.message.delta
                    delta = json.loads(line[6:])["delta"]
                    for part in delta.get("content", []):
                        yield part["text"]["value"]
                elif event == "thread.run.failed":  # expect: sse:thread.run.failed
                    yield "\n[error]"
                elif event in ("thread.run.completed", "done"):  # expect: sse:thread.run.completed
                    break

    return Response(generate(), mimetype="text/plain")


def legacy_stream(lines):
    """An older handler that compares whole SSE lines."""
    for line in lines:
        if line.startswith("event: thread.message.completed"):  # expect: sse:thread.message.completed
            return True
    return False
