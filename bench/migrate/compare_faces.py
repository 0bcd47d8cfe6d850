"""Onward's Assistants face against its Responses face on the same model and server: the
tool-calling suite of tests/migrate/compare_suite run through `onward migrate compare`, per
model (scripted: the API's own cost; embedded SmolLM2: a real model), printed side by side
with the share by which the Responses path's latency is lower (the guide expects 30–60% on
tool-calling workflows).

    .venv/bin/python bench/migrate/compare_faces.py [--repeats-scripted 5] [--repeats-embedded 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import common  # noqa: E402
from openai import OpenAI  # noqa: E402

from tests.migrate.scripted import SCRIPT  # noqa: E402

SUITE = ROOT / "tests" / "migrate" / "compare_suite" / "tools.jsonl"
WEATHER = {"name": "get_weather", "description": "Current weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def compare(server: common.Server, tmp: Path, model: str, repeats: int) -> dict:
    """results.json of one `onward migrate compare` run of the suite on `model`."""
    client = OpenAI(base_url=server.url + "/v1", api_key="sk-bench")
    assistant = client.beta.assistants.create(model=model, instructions="Be brief.", tools=[{"type": "function", "function": WEATHER}])
    (tmp / "settings.json").write_text(json.dumps({"model": model, "instructions": "Be brief.", "tools": [{"type": "function", **WEATHER, "strict": False}]}))
    config = tmp / f"compare-{model}.toml"
    config.write_text(
        f'suite = "{SUITE}"\nrepeats = {repeats}\nconcurrency = 1\n[pricing.{model}]\ninput = 0.15\noutput = 0.60\n'
        f'[targets.assistants]\nkind = "assistants"\nbase_url = "{server.url}/v1"\napi_key = "sk-bench"\nassistant_id = "{assistant.id}"\n'
        f'[targets.responses]\nkind = "responses"\nbase_url = "{server.url}/v1"\napi_key = "sk-bench"\nsettings_file = "settings.json"\n'
    )
    out = tmp / f"report-{model}"
    subprocess.run([sys.executable, "-m", "onward.cli", "migrate", "compare", str(config), "--out", str(out)], check=True, cwd=tmp, capture_output=True)
    return json.loads((out / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats-scripted", type=int, default=5)
    parser.add_argument("--repeats-embedded", type=int, default=1)
    args = parser.parse_args()
    console, say = common.make_console()
    say(common.machine_info())
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        models = tmp / "models.toml"
        models.write_text(SCRIPT)
        server = common.start_onward(str(common.VENV_BIN / "onward"), tmp, models, f"sqlite:///{tmp / 'onward.db'}", tmp / "server.log")
        try:
            rows = []
            for model, repeats in (("scripted", args.repeats_scripted), ("smollm2", args.repeats_embedded)):
                say(f"{model}: {repeats} repeat(s) of {SUITE.name}")
                results = compare(server, tmp, model, repeats)
                t = results["targets"]
                a, r = t["assistants"], t["responses"]
                lower = 1 - r["latency_ms"]["p50"] / a["latency_ms"]["p50"]
                # the tool-calling turns alone (a whole loop: call, output, answer)
                tool = {name: common.pct([row["latency_ms"] for row in results["rows"] if row["target"] == name and row["tool_calls"]], 50) for name in t}
                tool_lower = 1 - tool["responses"] / tool["assistants"] if tool["assistants"] else float("nan")
                rows.append(tool_lower)
                console.print(
                    f"{model:9} p50/p95 ms assistants {a['latency_ms']['p50']:,.0f}/{a['latency_ms']['p95']:,.0f} responses {r['latency_ms']['p50']:,.0f}/{r['latency_ms']['p95']:,.0f}"
                    f" | p50 lower by {lower:.0%} | ttft p50 {a['ttft_ms']['p50']:,.0f} → {r['ttft_ms']['p50']:,.0f}"
                    f" | tool accuracy {a['tool_call_accuracy']:.2f}/{r['tool_call_accuracy']:.2f} | errors {a['error_rate']:.2f}/{r['error_rate']:.2f}"
                    f" | tokens/conv. {a['tokens']['total'] / a['conversations']:,.0f} → {r['tokens']['total'] / r['conversations']:,.0f}"
                )
                console.print(f"{'':9} tool-calling turns p50 ms assistants {tool['assistants']:,.0f} responses {tool['responses']:,.0f} | lower by {tool_lower:.0%}")
            common.print_verdict(console, f"{'PASS' if all(x >= 0.3 for x in rows) else 'BELOW'}: the Responses path's p50 on tool-calling turns is lower by {', '.join(f'{x:.0%}' for x in rows)} (scripted, embedded; guide: 30–60%)")
        finally:
            common.stop_procs([server.proc])


if __name__ == "__main__":
    main()
