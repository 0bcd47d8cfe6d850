"""`report.html`: one self-contained page (inline CSS and SVG drawn here, no scripts or external
files) with the latency distributions, cost per conversation, accuracy and errors per target."""

from __future__ import annotations

from html import escape
from typing import Any

COLORS = ["#3b6fb6", "#d9822b", "#3a9d5d", "#b33f62", "#7a5cc4", "#5c7080"]
CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#1c2127}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #dde1e6;padding:.35rem .5rem;text-align:right}th:first-child,td:first-child{text-align:left}
.chart{display:block;margin:.5rem 0;background:#f8f9fa;border:1px solid #e5e8eb}.note{color:#5c7080}"""


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}" if abs(value) >= 0.01 or value == 0 else f"{value:.2e}{unit}"
    return f"{value}{unit}"


def _latency_chart(results: dict) -> str:
    """One row per target: every turn's latency as a dot, p50 and p95 as ticks."""
    targets = results["targets"]
    top = max([max(t["latency_ms"]["samples"] or [0]) for t in targets.values()] + [1.0])
    width, left, row = 900, 140, 56
    height = row * len(targets) + 40
    x = lambda v: left + (width - left - 20) * v / top  # noqa: E731
    parts = [f'<svg class="chart" id="latency-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="latency per turn">']
    for i, (name, t) in enumerate(targets.items()):
        y = 30 + i * row
        color = COLORS[i % len(COLORS)]
        parts.append(f'<text x="8" y="{y + 4}" font-size="13">{escape(name)}</text><line x1="{left}" x2="{width - 20}" y1="{y}" y2="{y}" stroke="#ccd"/>')
        for v in t["latency_ms"]["samples"]:
            parts.append(f'<circle class="point" cx="{x(v):.1f}" cy="{y}" r="4" fill="{color}" fill-opacity="0.55"><title>{v:.0f} ms</title></circle>')
        for q in ("p50", "p95"):
            v = t["latency_ms"][q]
            if v is not None:
                # p50 labelled above the line, p95 below: equal or close quantiles (one sample) stay
                # readable; a label near either end is anchored inward so the SVG does not clip it.
                label_y = y - 15 if q == "p50" else y + 23
                anchor = "end" if x(v) > width - 80 else "start" if x(v) < left + 40 else "middle"
                parts.append(f'<line class="marker {q}" x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{y - 12}" y2="{y + 12}" stroke="#1c2127" stroke-width="{3 if q == "p50" else 1.5}"/><text x="{x(v):.1f}" y="{label_y}" font-size="11" text-anchor="{anchor}">{q} {v:.0f}</text>')
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11">0 ms</text><text x="{width - 20}" y="{height - 6}" font-size="11" text-anchor="end">{top:.0f} ms</text></svg>')
    return "".join(parts)


def _bars(chart_id: str, label: str, values: list[tuple[str, float | None]], fmt, top: float | None = None) -> str:
    """A horizontal bar per (name, value)."""
    width, left, row = 900, 140, 30
    height = row * len(values) + 16
    top = top or max([v or 0 for _, v in values] + [1e-12])
    parts = [f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{escape(label)}">']
    for i, (name, v) in enumerate(values):
        y = 8 + i * row
        w = (width - left - 140) * (v or 0) / top
        parts.append(f'<text x="8" y="{y + 16}" font-size="13">{escape(name)}</text><rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="20" fill="{COLORS[i % len(COLORS)]}"/><text x="{left + w + 6:.1f}" y="{y + 15}" font-size="12">{fmt(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(results: dict, title: str = "Assistants → Responses comparison") -> str:
    """The whole page as a string."""
    targets = results["targets"]
    names = list(targets)
    base = targets[results["baseline"]]
    rows = []
    for name, t in targets.items():
        change = ""
        if name != results["baseline"] and base["latency_ms"]["p50"] and t["latency_ms"]["p50"] is not None:
            change = f"{(1 - t['latency_ms']['p50'] / base['latency_ms']['p50']) * 100:+.0f}%"
        rows.append(
            f"<tr><td>{escape(name)} <span class=note>({t['kind']}, {escape(str(t['model']))})</span></td><td>{_fmt(t['latency_ms']['p50'])}</td><td>{_fmt(t['latency_ms']['p95'])}</td><td>{change}</td>"
            f"<td>{_fmt(t['conversation_latency_ms']['p50'])}</td><td>{_fmt(t['ttft_ms']['p50'])}</td><td>{t['tokens']['input']:,} / {t['tokens']['output']:,}</td><td>{_fmt(t['cost_usd'])}</td>"
            f"<td>{_fmt(t['tool_call_accuracy'])}</td><td>{_fmt(t['error_rate'])}</td><td>{_fmt(t['tool_call_agreement'])}</td><td>{_fmt(t['output_similarity'])}</td></tr>"
        )
    errors = "".join(f"<li>{escape(n)}: {escape(', '.join(f'{k} ×{v}' for k, v in t['errors'].items()))}</li>" for n, t in targets.items() if t["errors"]) or "<li>none</li>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{CSS}</style></head><body>
<h1>{escape(title)}</h1>
<p class=note>{_count(results['cases'], 'case')} × {_count(results['repeats'], 'repeat')} per target; baseline: {escape(results['baseline'])}. Latency is the whole turn (tool loop included), in ms; "faster" is the p50 reduction against the baseline (the migration guide expects 30–60% on tool-calling workflows).</p>
<table><thead><tr><th>target</th><th>p50 ms</th><th>p95 ms</th><th>faster</th><th>conv. p50 ms</th><th>TTFT p50 ms</th><th>tokens in / out</th><th>cost / conv. USD</th><th>tool accuracy</th><th>error rate</th><th>tool agreement</th><th>similarity</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>Latency per turn</h2>{_latency_chart(results)}
<h2>Cost per conversation (USD)</h2>{_bars("cost-chart", "cost per conversation", [(n, targets[n]["cost_usd"]) for n in names], lambda v: _fmt(v, " $"))}
<h2>Tool-call accuracy</h2>{_bars("accuracy-chart", "tool-call accuracy", [(n, targets[n]["tool_call_accuracy"]) for n in names], _fmt, top=1.0)}
<h2>Error rate</h2>{_bars("error-chart", "error rate", [(n, targets[n]["error_rate"]) for n in names], _fmt, top=1.0)}
<ul class=note>{errors}</ul>
</body></html>
"""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
