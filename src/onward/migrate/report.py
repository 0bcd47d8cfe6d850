"""Render a scan as a terminal table, Markdown or JSON: one result, several readers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from .catalog import FLAGS
from .scan import ScanResult


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def scan_table(result: ScanResult, console: Console) -> None:
    """Print the findings grouped by file, then counts by API and by risk flag."""
    table = Table(title=f"Assistants API call sites: {len(result.findings)} in {_n(result.files_scanned, 'file')}", show_lines=False)
    table.add_column("where", style="cyan", no_wrap=True)
    table.add_column("api", style="bold", no_wrap=True)
    table.add_column("Responses equivalent")
    table.add_column("flags", style="yellow")
    for f in result.findings:
        table.add_row(f"{f.path}:{f.line}", f.api, f.replacement, ", ".join(f.flags))
    console.print(table)
    flags = result.by_flag()
    if flags:
        risks = Table(title="Risk flags")
        risks.add_column("flag", style="yellow")
        risks.add_column("count", justify="right")
        risks.add_column("what to do")
        for flag, count in flags.items():
            risks.add_row(flag, str(count), FLAGS.get(flag, ""))
        console.print(risks)
    for note in sorted({n for f in result.findings for n in f.notes}):
        console.print(f"[yellow]note[/]: {note}")
    for error in result.errors:
        console.print(f"[red]skipped[/] {error}")


def scan_json(result: ScanResult) -> str:
    """A JSON list of findings: `path`, `line`, `api`, `replacement`, `flags`, `notes`,
    `language`, `code`."""
    return json.dumps([f.as_dict() for f in result.findings], indent=2)


def scan_markdown(result: ScanResult) -> str:
    """A Markdown report: summary, risk flags with advice, then every call site by file."""
    out = [
        "# Assistants API scan",
        "",
        f"{_n(len(result.findings), 'call site')} in {_n(result.files_scanned, 'file')} scanned on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "## By API",
        "",
        "| api | count |",
        "|---|---:|",
    ]
    out += [f"| `{api}` | {count} |" for api, count in result.by_api().items()]
    if result.by_flag():
        out += ["", "## Risk flags", "", "| flag | count | what to do |", "|---|---:|---|"]
        out += [f"| {flag} | {count} | {FLAGS.get(flag, '')} |" for flag, count in result.by_flag().items()]
    out += ["", "## Call sites", ""]
    current = None
    for f in result.findings:
        if f.path != current:
            current = f.path
            out += ["", f"### {f.path}", "", "| line | api | Responses equivalent | flags | notes |", "|---:|---|---|---|---|"]
        out.append(f"| {f.line} | `{f.api}` | {f.replacement} | {', '.join(f.flags)} | {'; '.join(f.notes)} |")
    if result.errors:
        out += ["", "## Files not scanned", ""] + [f"- {e}" for e in result.errors]
    return "\n".join(out) + "\n"
