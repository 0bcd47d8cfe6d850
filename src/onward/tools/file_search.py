"""The file_search hosted tool: what the model is offered, what it gets back, and which
files the answer cites. Searching itself is the vector-store service's job."""

from __future__ import annotations

import re
from typing import Any

from ..errors import invalid, reject_unknown
from ..retrieval.search import validate_filter

NAME = "file_search"
DESCRIPTION = (
    "Search the user's uploaded files for passages relevant to a question. "
    "Call it whenever the answer may be in those files."
)
PARAMETERS = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to look for, in a few words."}},
    "required": ["query"],
    "additionalProperties": False,
}


def normalize(tool: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate a `{"type": "file_search", …}` tool and echo it with its defaults."""
    reject_unknown(tool, {"type", "vector_store_ids", "max_num_results", "ranking_options", "filters"}, where)
    ids = tool.get("vector_store_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise invalid(f"'{where}.vector_store_ids' must be a non-empty array of vector store ids.", f"{where}.vector_store_ids")
    limit = tool.get("max_num_results", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50:
        raise invalid(f"'{where}.max_num_results' must be an integer between 1 and 50.", f"{where}.max_num_results")
    ranking = tool.get("ranking_options") or {}
    if not isinstance(ranking, dict):
        raise invalid(f"Invalid type for '{where}.ranking_options': expected an object.", f"{where}.ranking_options", "invalid_type")
    threshold = ranking.get("score_threshold", 0.0)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
        raise invalid(f"'{where}.ranking_options.score_threshold' must be between 0 and 1.", f"{where}.ranking_options.score_threshold")
    ranker = ranking.get("ranker", "auto")
    if not isinstance(ranker, str):
        raise invalid(f"Invalid type for '{where}.ranking_options.ranker': expected a string.", f"{where}.ranking_options.ranker", "invalid_type")
    filters = tool.get("filters")
    return {
        "type": "file_search",
        "vector_store_ids": ids,
        "max_num_results": limit,
        "ranking_options": {"ranker": ranker, "score_threshold": float(threshold)},
        "filters": validate_filter(filters, f"{where}.filters") if filters is not None else None,
    }


def as_function() -> dict[str, Any]:
    """How the model sees the tool: a function it calls with a query."""
    return {"type": "function", "name": NAME, "description": DESCRIPTION, "parameters": PARAMETERS, "strict": True}


def format_results(results: list[dict[str, Any]], max_chars: int) -> str:
    """Results as the model reads them: numbered passages naming their file, within a budget."""
    if not results:
        return "No relevant passages were found in the files."
    out: list[str] = []
    used = 0
    per = max(200, max_chars // max(1, len(results)))
    for n, r in enumerate(results, 1):
        text = r["text"].strip()
        if len(text) > per:
            text = text[:per].rsplit(" ", 1)[0] + " …"
        block = f"[{n}] From {r['filename']}:\n{text}"
        if used + len(block) > max_chars and out:
            break
        out.append(block)
        used += len(block)
    return "Passages found in the files:\n\n" + "\n\n".join(out)


def result_items(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"file_id": r["file_id"], "filename": r["filename"], "score": r["score"], "text": r["text"], "attributes": r.get("attributes") or {}}
        for r in results
    ]


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-']{3,}")


def cited_files(answer: str, results: list[dict[str, Any]], limit: int = 3) -> list[dict[str, str]]:
    """The files an answer drew on: those sharing the most distinctive words with it; at least
    the best-ranked file when the answer is not empty."""
    if not answer.strip() or not results:
        return []
    words = {w.lower() for w in _WORD.findall(answer)}
    overlap: dict[str, tuple[int, str]] = {}
    for r in results:
        common = len(words & {w.lower() for w in _WORD.findall(r["text"])})
        best = overlap.get(r["file_id"], (0, r["filename"]))
        overlap[r["file_id"]] = (max(best[0], common), r["filename"])
    ranked = sorted(overlap.items(), key=lambda kv: -kv[1][0])
    chosen = [(fid, name) for fid, (score, name) in ranked if score >= 2][:limit]
    if not chosen:
        chosen = [(results[0]["file_id"], results[0]["filename"])]
    return [{"file_id": fid, "filename": name} for fid, name in chosen]
