"""`onward migrate compare`: Onward's Assistants face against its Responses face on the same
model, results.json figures, and report.html rendered in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.migrate.conftest import onward
from tests.migrate.scripted import SCRIPT

SUITE = Path(__file__).parent / "compare_suite" / "tools.jsonl"
WEATHER = {"name": "get_weather", "description": "Current weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def compare_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    srv = Server(tmp, f"sqlite:///{tmp / 'onward.db'}", SCRIPT).start()
    yield srv
    srv.stop()


def write_config(tmp: Path, server: Server, model: str, suite: Path, repeats: int) -> Path:
    client = server.client()
    assistant = client.beta.assistants.create(model=model, instructions="Be brief.", tools=[{"type": "function", "function": WEATHER}])
    settings = {"model": model, "instructions": "Be brief.", "tools": [{"type": "function", **WEATHER, "strict": False}]}
    (tmp / "settings.json").write_text(json.dumps(settings))
    config = tmp / "compare.toml"
    config.write_text(
        f'suite = "{suite}"\nrepeats = {repeats}\nconcurrency = 2\n[pricing.{model}]\ninput = 0.15\noutput = 0.60\n'
        f'[targets.assistants]\nkind = "assistants"\nbase_url = "{server.url}"\napi_key = "sk-test"\nassistant_id = "{assistant.id}"\n'
        f'[targets.responses]\nkind = "responses"\nbase_url = "{server.url}"\napi_key = "sk-test"\nsettings_file = "settings.json"\n'
    )
    return config


def chromium(report: Path, tmp: Path) -> tuple[Path, str]:
    """(screenshot, dumped DOM) of the report, in headless Chromium."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp / 'profile'}"]
    shot = tmp / "report.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1000,1400", report.as_uri()], capture_output=True, timeout=120, check=True)
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    return shot, dom


def test_compare_scripted_tool_suite_and_report(compare_server, tmp_path):
    config = write_config(tmp_path, compare_server, "scripted", SUITE, repeats=2)
    out = tmp_path / "out"
    onward("migrate", "compare", str(config), "--out", str(out))
    results = json.loads((out / "results.json").read_text())
    assert set(results["targets"]) == {"assistants", "responses"}
    for name, t in results["targets"].items():
        assert t["turns"] == 10 and t["conversations"] == 8, name
        assert t["error_rate"] == 0 and t["errors"] == {}, (name, t["errors"])
        assert t["tool_call_accuracy"] == 0.5, name  # the Oslo case expects Oslo; the script answers Paris
        assert t["text_accuracy"] == 1.0, name
        assert 0 < t["latency_ms"]["p50"] <= t["latency_ms"]["p95"] and t["ttft_ms"]["p50"] > 0
        assert t["tokens"]["total"] == t["tokens"]["input"] + t["tokens"]["output"] > 0
        assert t["cost_usd"] > 0 and t["priced"]
    assert results["targets"]["responses"]["tool_call_agreement"] == 1.0
    assert results["targets"]["responses"]["output_similarity"] == 1.0
    rows = [r for r in results["rows"] if r["target"] == "responses" and r["case"] == 0]
    assert rows and all(r["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}] and r["text"] == "It is 22C in Paris." for r in rows)
    html = (out / "report.html").read_text()
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    shot, dom = chromium(out / "report.html", tmp_path)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    for chart in ("latency-chart", "cost-chart", "accuracy-chart", "error-chart"):
        assert f'id="{chart}"' in dom
    assert dom.count('class="point"') == 20 and dom.count('class="bar"') == 6


def test_compare_embedded_model(compare_server, tmp_path):
    suite = tmp_path / "suite.jsonl"
    suite.write_text(json.dumps({"input": "Say hi.", "conversation": "a"}) + "\n")
    config = write_config(tmp_path, compare_server, "smollm2", suite, repeats=1)
    out = tmp_path / "out"
    onward("migrate", "compare", str(config), "--out", str(out))
    results = json.loads((out / "results.json").read_text())
    for name, t in results["targets"].items():
        assert t["turns"] == 1 and not any(k.startswith("http_5") for k in t["errors"]), (name, t["errors"])
        assert t["tokens"]["input"] > 0 and t["latency_ms"]["p50"] > 0


def test_compare_config_mistakes(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('suite = "missing.jsonl"\n')
    result = onward("migrate", "compare", str(config), check=False)
    assert result.returncode == 2 and "missing.jsonl" in result.stderr
    (tmp_path / "s.jsonl").write_text('{"input": "hi"}\nnot json\n')
    config.write_text('suite = "s.jsonl"\n[targets.a]\nkind = "responses"\nmodel = "x"\n[targets.b]\nkind = "responses"\nmodel = "x"\n')
    result = onward("migrate", "compare", str(config), check=False)
    assert result.returncode == 2 and "s.jsonl:2" in result.stderr
    (tmp_path / "s.jsonl").write_text('{"input": "hi"}\n')
    config.write_text('suite = "s.jsonl"\n[targets.a]\nkind = "responses"\nmodel = "x"\nmax_tokens = 9\n[targets.b]\nkind = "responses"\nmodel = "x"\n')
    result = onward("migrate", "compare", str(config), check=False)
    assert result.returncode == 2 and "targets.a.max_tokens" in result.stderr  # a misspelt setting, not silently dropped
