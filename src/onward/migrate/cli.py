"""`onward migrate …`: the migration toolkit's commands (typer). Each command is a thin layer
over a module that returns plain data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

app = typer.Typer(help="Move Assistants API code and data to the Responses API.", no_args_is_help=True, rich_markup_mode="markdown")


@contextmanager
def _remote(base_url: str | None) -> Iterator[None]:
    """One readable line, not a traceback, when the server cannot be used."""
    import openai

    try:
        yield
    except openai.APIConnectionError as exc:
        typer.echo(f"Cannot reach {base_url}: {exc.__cause__ or exc}. Check --base-url / --to (it ends in /v1).", err=True)
        raise typer.Exit(1) from exc
    except openai.AuthenticationError as exc:
        typer.echo(f"{base_url} refused the API key (401): pass --api-key or set OPENAI_API_KEY.", err=True)
        raise typer.Exit(1) from exc
    except openai.APIStatusError as exc:
        hint = " Is the URL the API's base, ending in /v1?" if exc.status_code == 404 and not str(base_url).rstrip("/").endswith("/v1") else ""
        typer.echo(f"{base_url} answered {exc.status_code}: {exc.message}.{hint}", err=True)
        raise typer.Exit(1) from exc


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
    `created_at` as Unix seconds, milliseconds or ISO 8601, optional `assistant_id`, `run_id`, `metadata`);
    CSV with the same columns; JSON dumps. A thread becomes a conversation with the same id,
    usable through `/v1/threads` and `/v1/conversations` at once. Bad lines are listed as
    FILE:LINE with the reason and skipped; re-running adds nothing twice. With `--to`, threads
    are written through `POST /v1/conversations` (+ `/items`, 20 per call) of any server and a
    mapping file is kept (OpenAI assigns new conversation ids).
    """
    import asyncio

    from .importers import detect, stage

    for path in paths:
        if not path.exists():
            typer.echo(f"{path} does not exist.", err=True)
            raise typer.Exit(2)
        try:
            detect(path)
        except ValueError as exc:
            typer.echo(f"{exc}: give export directories, .json, .jsonl or .csv files.", err=True)
            raise typer.Exit(2) from exc
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
        if not counts:
            staging.close()
            for line in errors[:20]:
                err.print(f"[red]skipped[/] {line}")
            err.print("Nothing to import: no readable assistants, threads, messages, runs or steps in " + ", ".join(map(str, paths)) + ".")
            raise typer.Exit(1)
        counts["thread"] = len(staging.thread_ids())
        target = to or _database_url(db)
        err.print(f"{'checking against' if dry_run else 'importing into'} {target.split('@')[-1]}")
        total = sum(n for kind, n in counts.items() if kind != "thread")
        progress.update(task, description="writing" if not dry_run else "checking", total=total, completed=0)
        advance = lambda n: progress.advance(task, n)  # noqa: E731
        if to:
            from openai import OpenAI

            from .importers.remote import write_remote

            client = OpenAI(base_url=to, api_key=api_key, max_retries=5)
            with _remote(to):
                tally = write_remote(client, staging, mapping, dry_run=dry_run, progress=advance)
        else:

            tally = asyncio.run(_write_db(db, staging, dry_run, advance))
    staging.close()
    _import_summary(err, counts, tally, errors, warnings + tally.warnings, dry_run, mapping if to else None)


async def _write_db(url: str | None, staging, dry_run: bool, progress):
    from ..store.db import ensure_database, make_engine, migrate, normalize_url
    from .importers.local import write_local

    url = _database_url(url)
    if normalize_url(url).startswith("postgresql"):
        await ensure_database(url)
    engine = make_engine(url)
    try:
        await migrate(engine)
        return await write_local(engine, staging, dry_run=dry_run, progress=progress)
    finally:
        await engine.dispose()


def _database_url(url: str | None) -> str:
    from ..config import Settings

    return url or Settings.from_env().database_url


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


def _client(base_url: str, api_key: str | None):
    from openai import OpenAI

    # The SDK backs off and retries 429 and 5xx on its own; migrations are long, so retry more.
    return OpenAI(base_url=base_url, api_key=api_key or "none", max_retries=5, timeout=120)


@app.command()
def export(
    base_url: Annotated[str, typer.Option("--base-url", help="Any server speaking the Assistants API, e.g. http://127.0.0.1:8000/v1.")],
    threads: Annotated[Path, typer.Option("--threads", help="File of thread ids, one per line (the API cannot list threads).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write (created; an earlier export there is resumed).")],
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="OPENAI_API_KEY", help="API key of that server.")] = None,
) -> None:
    """Pull assistants, files, vector store file lists, and the given threads with their
    messages, runs and run steps, exactly as the API returns them, into OUT (JSON Lines).

    Resumable: threads already done are skipped when run again. 429 and 5xx answers are
    retried with backoff. Import the result with `onward migrate import OUT`.
    """
    from rich.table import Table

    from .export import export as run_export
    from .export import read_thread_ids

    if not threads.exists():
        typer.echo(f"{threads} does not exist: give a file with one thread id per line.", err=True)
        raise typer.Exit(2)
    ids = read_thread_ids(threads)
    err = Console(stderr=True)
    with _progress(err) as progress:
        task = progress.add_task("export", total=len(ids) + 3)
        with _remote(base_url):
            summary = run_export(_client(base_url, api_key), ids, out, progress=lambda what: progress.update(task, advance=1, description=what[:24]))
    table = Table(title=f"Export to {out}")
    table.add_column("")
    table.add_column("count", justify="right")
    for name in ("assistants", "files", "vector_stores", "threads", "threads_skipped", "messages", "runs", "steps"):
        table.add_row(name.replace("_", " "), str(getattr(summary, name)))
    err.print(table)
    for thread_id in summary.missing:
        err.print(f"[yellow]not found[/] {thread_id}")


def _assistants_from(db: str | None, source: Path | None, base_url: str | None, api_key: str | None) -> list[dict]:
    """Assistant objects from an export (or any import format), a live server, or a database."""
    if source is not None:
        from .importers import stage

        errors: list[str] = []
        staging = stage([source], errors, [])
        found = list(staging.of_kind("assistant"))
        staging.close()
        return found
    if base_url is not None:
        from .export import _pages

        return list(_pages(_client(base_url, api_key).beta.assistants.with_raw_response.list))
    import asyncio

    async def load() -> list[dict]:
        import orjson
        import sqlalchemy as sa

        from ..config import Settings
        from ..store.db import make_engine
        from ..store.models import assistants

        engine = make_engine(db or Settings.from_env().database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.select(assistants.c.body).order_by(assistants.c.created_ns, assistants.c.id))
                return [orjson.loads(r[0]) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(load())


@app.command()
def convert(
    source: Annotated[Path | None, typer.Option("--from", help="An export directory or any file `import` reads.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="A live server speaking the Assistants API.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="OPENAI_API_KEY")] = None,
    db: Annotated[str | None, typer.Option("--db", help="An Onward database (default: the server's).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json, python or typescript.")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")] = None,
) -> None:
    """Convert assistants to Responses request settings (Step 2 of the migration guide).

    `--format json` prints `[{"assistant_id", "name", "settings", "notes"}]`, `settings` being
    keyword arguments `responses.create` takes as they are (`model`, `instructions`, `tools`,
    `text`, `temperature`, `top_p`, `reasoning`, `metadata`); `python` and `typescript` print
    a constant per assistant. Retired models are replaced (see docs/migration.md) with a note.
    Reads from `--from`, `--base-url`, or else an Onward database (`--db`).
    """
    from .convert import BEHAVIOUR_NOTES, as_python, as_typescript, convert_all

    if fmt not in ("json", "python", "typescript"):
        typer.echo(f"--format must be json, python or typescript, not {fmt!r}.", err=True)
        raise typer.Exit(2)
    if source is not None and not source.exists():
        typer.echo(f"{source} does not exist.", err=True)
        raise typer.Exit(2)
    with _remote(base_url):
        converted = convert_all(_assistants_from(db, source, base_url, api_key))
    if fmt == "json":
        import json

        text = json.dumps(converted, indent=2, ensure_ascii=False) + "\n"
    else:
        text = as_python(converted) if fmt == "python" else as_typescript(converted)
    if out is not None:
        out.write_text(text)
    else:
        typer.echo(text, nl=False)
    err = Console(stderr=True)
    err.print(f"{len(converted)} assistants converted. What changes in behaviour:")
    for note in BEHAVIOUR_NOTES:
        err.print(f"  - {note}")


@app.command()
def audit(
    base_url: Annotated[str, typer.Option("--base-url", help="Any server speaking the Assistants API.")],
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="OPENAI_API_KEY")] = None,
    threads: Annotated[Path | None, typer.Option("--threads", help="File of thread ids to count, one per line.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the inventory as JSON.")] = False,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Also write a Markdown report here.")] = None,
) -> None:
    """Inventory (Step 1 of the migration guide, data side): every assistant with its model,
    tools, tool resources and vector stores (file counts, bytes), the message and run counts of
    the given threads, and flags for what will not carry over as is."""
    import json

    from rich.table import Table

    from . import audit as auditing
    from .export import read_thread_ids

    ids = read_thread_ids(threads) if threads else []
    with _remote(base_url):
        report = auditing.audit(_client(base_url, api_key), ids)
    if markdown is not None:
        markdown.write_text(auditing.markdown(report))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console(width=max(Console().width, 160))
    table = Table(title=f"Assistants on {base_url}")
    for col in ("id", "name", "model", "tools", "vector stores", "flags"):
        table.add_column(col, no_wrap=col == "id")
    for a in report["assistants"]:
        stores = "\n".join(f"{s['id']}: {s['files']} files, {s['bytes']} B" for s in a["vector_stores"])
        table.add_row(a["id"], a["name"] or "", a["model"], ", ".join(a["tools"]), stores, "\n".join(a["flags"]))
    console.print(table)
    if report["threads"]:
        tt = Table(title="Threads")
        for col in ("id", "messages", "runs", "flags"):
            tt.add_column(col, justify="right" if col in ("messages", "runs") else "left")
        for th in report["threads"]:
            tt.add_row(th["id"], str(th["messages"]), str(th["runs"]), "\n".join(th["flags"]))
        console.print(tt)
    console.print(" · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report["totals"].items()))


@app.command()
def codemod(
    paths: Annotated[list[Path], typer.Argument(help="Python files or folders to rewrite.")],
    write: Annotated[bool, typer.Option("--write", help="Rewrite the files in place (default: print a unified diff).")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Write the report rows (rewrites and TODOs) to this file: .json, or Markdown otherwise.")] = None,
) -> None:
    """Rewrite Assistants API code into Responses API code (Steps 3 to 5 of the guide), with libcst.

    Assistant creation becomes a settings dict passed as `**settings` to `responses.create`;
    threads/messages become conversations and their items; runs (and status polling) become
    `responses.create(conversation=…)`; `requires_action` loops become loops over
    `function_call` items answered with `function_call_output` items; `AssistantEventHandler`
    + `runs.stream` become `responses.stream` events; usage, `last_error`, `response_format`,
    `tool_resources` and `beta.vector_stores` follow. What is not provably safe is left as it was
    with a `# TODO(onward-migrate): …` comment and a report row. Exit code 2 for a missing path,
    1 when a file does not parse.
    """
    import json

    from .codemod import codemod as run_codemod
    from .codemod import diff

    for path in paths:
        if not path.exists():
            typer.echo(f"{path} does not exist.", err=True)
            raise typer.Exit(2)
    results = run_codemod(paths)
    rows = [note.__dict__ for result in results for note in result.notes]
    for result in results:
        if result.error:
            typer.echo(f"{result.path}: {result.error}", err=True)
        elif write and result.changed:
            Path(result.path).write_text(result.after)
        elif not write and result.changed:
            typer.echo(diff(result), nl=False)
    todos = [r for r in rows if r["kind"] == "todo"]
    if report is not None:
        if report.suffix == ".json":
            report.write_text(json.dumps({"files": len(results), "changed": sum(r.changed for r in results), "rows": rows}, indent=2))
        else:
            lines = ["| file:line | pattern | what | note |", "|---|---|---|---|"]
            lines += [f"| {r['path']}:{r['line']} | {r['pattern']} | {r['kind']} | {r['message']} |" for r in rows]
            report.write_text("\n".join(lines) + "\n")
    typer.echo(f"{sum(r.changed for r in results)} of {len(results)} files changed, {len(rows) - len(todos)} rewrites, {len(todos)} TODOs", err=True)
    for r in todos:
        typer.echo(f"  TODO {r['path']}:{r['line']}: {r['message']}", err=True)
    if any(r.error for r in results):
        raise typer.Exit(1)


@app.command()
def compare(
    config: Annotated[Path, typer.Argument(help="The compare config (TOML): suite, repeats, concurrency, [pricing.MODEL], [targets.NAME].")],
    out: Annotated[Path, typer.Option("--out", help="Folder for results.json and report.html.")] = Path("compare-report"),
) -> None:
    """Run the same suite against two or more targets (Assistants and Responses) side by side.

    Measures per target: latency p50/p95 per turn and per conversation (ms), time to first token
    (streamed), input/output/total tokens and cost per conversation (USD, from the pricing table
    per million tokens), tool-call accuracy against the suite (0–1) and agreement with the first
    target, error rate by kind, output similarity. Writes `OUT/results.json` and a self-contained
    `OUT/report.html`. 429s and 5xx are retried by the SDK (`max_retries`); `concurrency` caps the
    conversations in flight. Exit code 2 on a config or suite mistake.
    """
    from .compare import ConfigError, load
    from .compare import compare as run_compare

    try:
        cfg = load(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    err = Console(stderr=True)
    per_target = len(cfg.suite) * cfg.repeats
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err, transient=False) as progress:
        tasks = {t.name: progress.add_task(t.name, total=per_target) for t in cfg.targets}
        results = run_compare(cfg, out, progress=lambda name: progress.update(tasks[name], advance=1))
    for name, t in results["targets"].items():
        err.print(f"{name}: p50 {t['latency_ms']['p50']} ms, p95 {t['latency_ms']['p95']} ms, TTFT p50 {t['ttft_ms']['p50']} ms, cost/conv ${t['cost_usd']}, tool accuracy {t['tool_call_accuracy']}, errors {t['error_rate']}")
    err.print(f"wrote {out / 'results.json'} and {out / 'report.html'}")
