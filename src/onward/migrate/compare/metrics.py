"""Figures per target from measured turns: latency p50/p95 per turn and per conversation, TTFT,
tokens and cost per conversation, tool-call accuracy, error rates by kind, and agreement and
output similarity against the first target (the baseline)."""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from dataclasses import asdict
from typing import Any

from .config import Config
from .runner import Turn


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0–100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)


def _matches(expected: dict, calls: list[dict]) -> bool:
    want = expected.get("arguments") or {}
    for call in calls:
        args = call["arguments"] if isinstance(call["arguments"], dict) else {}
        if call["name"] == expected["name"] and all(args.get(k) == v for k, v in want.items()):
            return True
    return False


def _first_call(turn: Turn) -> tuple | None:
    if not turn.tool_calls:
        return None
    call = turn.tool_calls[0]
    return (call["name"], repr(sorted(call["arguments"].items())) if isinstance(call["arguments"], dict) else call["arguments"])


def summarize(config: Config, turns: dict[str, list[Turn]], models: dict[str, str]) -> dict[str, Any]:
    """`results.json` content: `targets.NAME.{latency_ms,ttft_ms,tokens,cost_usd,…}` and `cases`."""
    cases = {c.index: c for c in config.suite}
    baseline = config.targets[0].name
    base_by_key = {(t.case, t.repeat): t for t in turns[baseline]}
    out: dict[str, Any] = {"baseline": baseline, "repeats": config.repeats, "cases": len(config.suite), "targets": {}}
    for target in config.targets:
        rows = turns[target.name]
        per_conv: dict[tuple, list[Turn]] = {}
        for t in rows:
            per_conv.setdefault((t.conversation, t.repeat), []).append(t)
        price = config.pricing.get(models.get(target.name, ""), {})
        conv_costs = [sum(t.input_tokens for t in ts) * price.get("input", 0) / 1e6 + sum(t.output_tokens for t in ts) * price.get("output", 0) / 1e6 for ts in per_conv.values()]
        graded = [t for t in rows if cases[t.case].expect_tool]
        texts = [t for t in rows if cases[t.case].expect_text]
        errors = Counter(t.error for t in rows if t.error)
        agree, similar = [], []
        for t in rows:
            other = base_by_key.get((t.case, t.repeat))
            if other is None or target.name == baseline:
                continue
            if t.tool_calls or other.tool_calls:  # turns where neither called a tool say nothing of tool use
                agree.append(_first_call(t) == _first_call(other))
            similar.append(difflib.SequenceMatcher(None, t.text, other.text).ratio())
        input_tokens, output_tokens = sum(t.input_tokens for t in rows), sum(t.output_tokens for t in rows)
        out["targets"][target.name] = {
            "kind": target.kind,
            "model": models.get(target.name),
            "turns": len(rows),
            "conversations": len(per_conv),
            "latency_ms": {"p50": percentile([t.latency_ms for t in rows], 50), "p95": percentile([t.latency_ms for t in rows], 95), "samples": [round(t.latency_ms, 2) for t in rows]},
            "conversation_latency_ms": {"p50": percentile([sum(t.latency_ms for t in ts) for ts in per_conv.values()], 50), "p95": percentile([sum(t.latency_ms for t in ts) for ts in per_conv.values()], 95)},
            "ttft_ms": {"p50": percentile([t.ttft_ms for t in rows if t.ttft_ms is not None], 50), "p95": percentile([t.ttft_ms for t in rows if t.ttft_ms is not None], 95)},
            "tokens": {"input": input_tokens, "output": output_tokens, "total": input_tokens + output_tokens},
            "cost_usd": round(sum(conv_costs) / len(conv_costs), 8) if conv_costs else 0.0,
            "cost_total_usd": round(sum(conv_costs), 8),
            "priced": bool(price),
            "tool_call_accuracy": round(sum(_matches(cases[t.case].expect_tool or {}, t.tool_calls) for t in graded) / len(graded), 4) if graded else None,
            "text_accuracy": round(sum(bool(re.search(cases[t.case].expect_text or "", t.text)) for t in texts) / len(texts), 4) if texts else None,
            "error_rate": round(sum(errors.values()) / len(rows), 4) if rows else 0.0,
            "errors": dict(errors),
            "tool_call_agreement": round(sum(agree) / len(agree), 4) if agree else None,
            "output_similarity": round(sum(similar) / len(similar), 4) if similar else None,
        }
    out["rows"] = [asdict(t) for ts in turns.values() for t in ts]
    return out
