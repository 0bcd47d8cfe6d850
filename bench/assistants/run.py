"""Requests and latency of an Assistants run against the same work through Responses.

Starts `onward serve` (temporary SQLite, a scripted model by default: the model's own time
is then ~0, so what is left is the protocol's cost) and runs, side by side in one process:

  * text turn:  threads.create + messages.create + runs.create_and_poll + messages.list
                vs. responses.create(conversation=…)
  * tool turn:  runs.create_and_poll → requires_action → submit_tool_outputs_and_poll
                vs. responses.create → function_call → responses.create(function_call_output)

It counts every HTTP request the official SDK makes (and the polling GETs among them) and
times each flow end to end.

    .venv/bin/python bench/assistants/run.py [--iterations 40] [--model scripted|smollm2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from openai import OpenAI
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for common
import common  # noqa: E402

SCRIPT = """
default = "scripted"
[models.smollm2]
provider = "local"
[models.scripted]
provider = "scripted"
script = [
  { match = "weather", tool_calls = [{ name = "get_weather", arguments = { city = "Paris" } }] },
  { match = "22C", text = "It is 22C in Paris." },
  { text = "Hello! How can I help you today?" },
]
"""
WEATHER = {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


class Counting:
    """Counts the SDK's requests through an httpx event hook."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def hook(self, request: httpx.Request) -> None:
        polled = request.headers.get("x-stainless-poll-helper") == "true"
        self.calls["poll GET" if polled else request.method] += 1

    def take(self) -> Counter[str]:
        out, self.calls = self.calls, Counter()
        return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--model", default="scripted")
    args = ap.parse_args()
    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="onward-bench-asst-"))
    (tmp / "models.toml").write_text(SCRIPT)
    port = common.free_port()
    env = {**os.environ, "ONWARD_DATA_DIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "onward.cli", "serve", "--port", str(port), "--models", str(tmp / "models.toml"), "--db", f"sqlite:///{tmp / 'o.db'}"],
        env=env, stdout=open(tmp / "server.log", "wb"), stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        counter = Counting()
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="bench", http_client=httpx.Client(event_hooks={"request": [counter.hook]}))
        model = args.model
        assistant = client.beta.assistants.create(model=model, instructions="Be brief.", tools=[{"type": "function", "function": WEATHER}])
        results: dict[str, dict[str, list]] = {}

        def record(name: str, seconds: float, calls: Counter[str]) -> None:
            r = results.setdefault(name, {"ms": [], "calls": [], "polls": []})
            r["ms"].append(seconds * 1000)
            r["calls"].append(sum(calls.values()))
            r["polls"].append(calls["poll GET"])

        for i in range(args.iterations + 3):
            warm = i < 3
            counter.take()
            t = time.perf_counter()
            thread = client.beta.threads.create()
            client.beta.threads.messages.create(thread.id, role="user", content="Hello there")
            run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
            assert run.status == "completed", run.status
            client.beta.threads.messages.list(thread.id, limit=1)
            if not warm:
                record("text turn · Assistants", time.perf_counter() - t, counter.take())

            counter.take()
            t = time.perf_counter()
            conv = client.conversations.create()
            resp = client.responses.create(model=model, instructions="Be brief.", input="Hello there", conversation=conv.id)
            assert resp.status == "completed"
            if not warm:
                record("text turn · Responses", time.perf_counter() - t, counter.take())

            counter.take()
            t = time.perf_counter()
            thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is the weather in Paris?"}])
            run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
            assert run.status == "requires_action", run.status
            calls = run.required_action.submit_tool_outputs.tool_calls
            run = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": c.id, "output": "22C"} for c in calls])
            assert run.status == "completed", run.status
            if not warm:
                record("tool turn · Assistants", time.perf_counter() - t, counter.take())

            counter.take()
            t = time.perf_counter()
            tools = [{"type": "function", **WEATHER}]
            first = client.responses.create(model=model, input="What is the weather in Paris?", tools=tools)
            fc = [o for o in first.output if o.type == "function_call"]
            second = client.responses.create(model=model, previous_response_id=first.id, tools=tools, input=[{"type": "function_call_output", "call_id": c.call_id, "output": "22C"} for c in fc])
            assert second.status == "completed"
            if not warm:
                record("tool turn · Responses", time.perf_counter() - t, counter.take())

        table = Table(title=f"Assistants vs Responses on the same engine · model {model} · {args.iterations} runs each")
        for col in ("flow", "requests / run", "poll GETs / run (max)", "p50 ms", "p99 ms", "vs Responses p50"):
            table.add_column(col, justify="right" if col != "flow" else "left")
        for kind in ("text turn", "tool turn"):
            base = statistics.median(results[f"{kind} · Responses"]["ms"])
            for face in ("Assistants", "Responses"):
                r = results[f"{kind} · {face}"]
                p50 = statistics.median(r["ms"])
                table.add_row(
                    f"{kind} · {face}",
                    f"{statistics.mean(r['calls']):.1f}",
                    f"{statistics.mean(r['polls']):.2f} ({max(r['polls'])})",
                    f"{p50:.1f}",
                    f"{pct(r['ms'], 99):.1f}",
                    f"{p50 / base:.2f}x (+{p50 - base:.1f} ms)",
                )
        console.print(table)
        console.print("Requests include everything the SDK sent for the flow (thread and message creation, polls, listing the answer).")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
