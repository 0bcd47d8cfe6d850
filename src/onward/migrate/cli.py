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


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Export directories, JSON / JSON Lines / CSV files, or folders of them.")],
    db: Annotated[str | None, typer.Option("--db", help="Database to import into (default: the server's, ONWARD_DATABASE_URL or ~/.onward/onward.db).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Instead of a database: a server's base URL (…/v1) with the Conversations API.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="OPENAI_API_KEY", help="API key for --to.")] = None,
    mapping: Annotated[Path, typer.Option("--mapping", help="With --to: where the thread id → conversation id map is kept.")] = Path("conversation-map.json"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; change nothing.")] = False,
) -> None:
    """Import exported Assistants data with its ids (`asst_`, `thread_`, `msg_`, `run_`, `step_`).

    Formats are detected: the directory `onward migrate export` writes; raw list pages
    (`{"object": "list", "data": [...]}`) of messages, runs or steps, v1 or v2; JSON Lines with
    one message per line (keys `thread_id`, `message_id`/`id`, `role`, `text`/`content`,
    `created_at` as Unix seconds or ISO 8601, optional `assistant_id`, `run_id`, `metadata`);
    CSV with the same columns; JSON dumps. A thread becomes a conversation with the same id,
    usable through `/v1/threads` and `/v1/conversations` at once. Bad lines are listed as
    FILE:LINE with the reason and skipped; re-running adds nothing twice. With `--to`, threads
    are written through `POST /v1/conversations` (+ `/items`, 20 per call) of any server and a
    mapping file is kept (OpenAI assigns new conversation ids).
    """
    import asyncio

    from .importers import stage

    for path in paths:
        if not path.exists():
            typer.echo(f"{path} does not exist.", err=True)
            raise typer.Exit(2)
    if to and not api_key:
        typer.echo("--to needs --api-key (or OPENAI_API_KEY).", err=True)
        raise typer.Exit(2)
    err = Console(stderr=True)
    errors: list[str] = []
    warnings: list[str] = []
    with _progress(err) as progress:
        task = progress.add_task("reading", total=None)
        staging = stage(paths, errors, warnings, progress=lambda n: progress.advance(task, n))
        counts = staging.counts()
        total = sum(counts.values())
        progress.update(task, description="writing" if not dry_run else "checking", total=total, completed=0)
        advance = lambda n: progress.advance(task, n)  # noqa: E731
        if to:
            from openai import OpenAI

            from .importers.remote import write_remote

            client = OpenAI(base_url=to, api_key=api_key, max_retries=8)
            tally = write_remote(client, staging, mapping, dry_run=dry_run, progress=advance)
        else:
            from .importers.local import write_local

            tally = asyncio.run(_write_db(db, staging, dry_run, advance))
    staging.close()
    _import_summary(err, counts, tally, errors, warnings + tally.warnings, dry_run, mapping if to else None)


async def _write_db(url: str | None, staging, dry_run: bool, progress):
    from ..config import Settings
    from ..store.db import ensure_database, make_engine, migrate, normalize_url
    from .importers.local import write_local

    url = url or Settings.from_env().database_url
    if normalize_url(url).startswith("postgresql"):
        await ensure_database(url)
    engine = make_engine(url)
    try:
        await migrate(engine)
        return await write_local(engine, staging, dry_run=dry_run, progress=progress)
    finally:
        await engine.dispose()


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), console=console, transient=False)


def _import_summary(console: Console, counts: dict[str, int], tally, errors: list[str], warnings: list[str], dry_run: bool, mapping: Path | None) -> None:
    from rich.table import Table

    verb = "would add" if dry_run else "added"
    table = Table(title="Import" + (" (dry run: nothing changed)" if dry_run else ""))
    table.add_column("")
    table.add_column("read", justify="right")
    table.add_column(verb, justify="right")
    table.add_row("assistants", str(counts.get("assistant", 0)), str(tally.assistants))
    table.add_row("threads", str(counts.get("thread", 0)), f"{tally.threads} new, {tally.threads_existing} existing")
    table.add_row("messages", str(counts.get("message", 0)), str(tally.messages))
    table.add_row("tool calls (items)", "", str(tally.tool_calls))
    table.add_row("runs", str(counts.get("run", 0)), str(tally.runs))
    table.add_row("run steps", str(counts.get("step", 0)), str(tally.steps))
    table.add_row("already there", "", str(tally.skipped))
    table.add_row("bad lines", str(len(errors)), "skipped")
    console.print(table)
    for line in warnings[:50]:
        console.print(f"[yellow]warning[/] {line}")
    for line in errors[:100]:
        console.print(f"[red]skipped[/] {line}")
    if len(errors) > 100:
        console.print(f"[red]… and {len(errors) - 100} more bad lines[/]")
    if mapping is not None and not dry_run:
        console.print(f"thread → conversation map: {mapping}")
