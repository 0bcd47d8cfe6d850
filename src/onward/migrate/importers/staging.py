"""A scratch SQLite file that holds every record once, sorted for writing.

Imports stream records in whatever order their files hold them; the target needs each
thread's messages in `created_at` order (then the source's order). Staging them in an indexed
temporary table sorts a 100,000-message thread without holding it in memory, and drops
duplicates (the same id seen twice) on the way.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .records import Record


class Staging:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="onward-import-")
        self.db = sqlite3.connect(Path(self._dir.name) / "staging.db")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE records (kind TEXT, id TEXT, thread_id TEXT, created_at INTEGER, run_id TEXT, ord INTEGER, body TEXT, src TEXT, PRIMARY KEY (kind, id))"
        )
        self.count = 0
        self.duplicates: list[str] = []

    def add(self, record: Record) -> None:
        self.count += 1
        try:
            self.db.execute(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.kind, record.id, record.thread_id, record.created_at, record.body.get("run_id"), self.count, json.dumps(record.body), record.where),
            )
        except sqlite3.IntegrityError:
            self.duplicates.append(f"{record.where}: {record.kind} {record.id} appears again; the first copy is kept")

    def done_adding(self) -> None:
        self.db.execute("CREATE INDEX by_thread ON records (thread_id, kind, created_at, ord)")
        self.db.commit()

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT kind, count(*) FROM records GROUP BY kind").fetchall())

    def of_kind(self, kind: str) -> Iterator[dict]:
        for (body,) in self.db.execute("SELECT body FROM records WHERE kind = ? ORDER BY created_at, ord", (kind,)):
            yield json.loads(body)

    def thread_ids(self) -> list[str]:
        rows = self.db.execute("SELECT thread_id, min(created_at) AS first FROM records WHERE thread_id IS NOT NULL GROUP BY thread_id ORDER BY first, thread_id")
        return [r[0] for r in rows]

    def thread(self, thread_id: str) -> dict | None:
        row = self.db.execute("SELECT body FROM records WHERE kind = 'thread' AND id = ?", (thread_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def timeline(self, thread_id: str) -> Iterator[tuple[str, dict]]:
        """(kind, body) of a thread's messages and run steps in conversation order: messages by
        `created_at`, then the order the files gave them; a run's tool-call steps just before
        the answer that run wrote (timestamps tie within a second), other steps by time."""
        steps = [json.loads(b) for (b,) in self.db.execute("SELECT body FROM records WHERE thread_id = ? AND kind = 'step' ORDER BY created_at, ord", (thread_id,))]
        done: set[str] = set()

        def emit(selected: list[dict]) -> Iterator[tuple[str, dict]]:
            for step in selected:
                if step["id"] not in done:
                    done.add(step["id"])
                    yield "step", step

        query = "SELECT body FROM records WHERE thread_id = ? AND kind = 'message' ORDER BY created_at, ord"
        for (raw,) in self.db.execute(query, (thread_id,)):
            message = json.loads(raw)
            yield from emit([s for s in steps if s["created_at"] < message["created_at"]])
            if message.get("role") == "assistant" and message.get("run_id"):
                yield from emit([s for s in steps if s.get("run_id") == message["run_id"]])
            yield "message", message
        yield from emit(steps)

    def runs(self, thread_id: str) -> Iterator[dict]:
        query = "SELECT body FROM records WHERE thread_id = ? AND kind = 'run' ORDER BY created_at, ord"
        for (body,) in self.db.execute(query, (thread_id,)):
            yield json.loads(body)

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()
