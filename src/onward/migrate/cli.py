"""`onward migrate …`: the migration toolkit's commands (typer). Each command is a thin layer
over a module that returns plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

app = typer.Typer(help="Move Assistants API code and data to the Responses API.", no_args_is_help=True)


@app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to scan (Python, JavaScript, TypeScript).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as a JSON list.")] = False,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Also write a Markdown report to this file.")] = None,
) -> None:
    """Find every Assistants API call site (Step 1 of the migration guide, code side).

    Prints a table of file:line, the SDK call (`beta.threads.runs.create_and_poll`), its
    Responses equivalent and risk flags (retired models, additional_instructions,
    truncation_strategy, max_prompt_tokens, per-tenant assistants, run-status polling,
    code_interpreter, v1 file_ids). `--json` prints a list of findings with `path`, `line`,
    `api`, `replacement`, `flags`. Exit code 2 when a path does not exist.
    """
    from .report import scan_json, scan_markdown, scan_table
    from .scan import scan as run_scan
    from .scan import source_files

    for path in paths:
        if not path.exists():
            typer.echo(f"{path} does not exist.", err=True)
            raise typer.Exit(2)
    err = Console(stderr=True)
    total = sum(1 for _ in source_files(paths))
    with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"), console=err, transient=True, disable=as_json or total < 50) as progress:
        task = progress.add_task("", total=total)
        result = run_scan(paths, progress=lambda p: progress.update(task, advance=1, description=p.name))
    if markdown is not None:
        markdown.write_text(scan_markdown(result))
        err.print(f"wrote {markdown}")
    if as_json:
        typer.echo(scan_json(result))
    else:
        scan_table(result, Console(width=max(Console().width, 160)))
