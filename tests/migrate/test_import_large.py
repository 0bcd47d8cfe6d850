"""A 100,000-message thread: memory stays flat, progress shows, the thread pages on both faces."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
N = 100_000

# Runs the CLI in a child process that reports its own peak memory when done.
# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a child of a large
# test process would report its parent's peak.
MEASURED = """
import sys
from onward.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(f"peak_rss_kb={hwm.split()[1]}", file=sys.stderr)
"""


def test_hundred_thousand_messages(tmp_path, serve):
    rows = tmp_path / "big.jsonl"
    with rows.open("w") as fh:
        for i in range(N):
            fh.write(json.dumps({"thread_id": "thread_big", "id": f"msg_big{i:06d}", "role": "user" if i % 2 == 0 else "assistant", "text": f"message {i} " + "lorem ipsum " * 8, "created_at": 1700000000 + i // 3}) + "\n")
    db = f"sqlite:///{tmp_path / 'big.db'}"
    done = subprocess.run([sys.executable, "-c", MEASURED, "migrate", "import", str(rows), "--db", db], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert f"{N}/{N}" in done.stderr  # the progress bar reached the end
    peak_mb = int(done.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0]) / 1024
    assert peak_mb < 300, f"peak memory {peak_mb:.0f} MB: the import should stream, not hold the thread"
    client = serve(db).client()
    newest = client.beta.threads.messages.list("thread_big", limit=3)
    assert [m.id for m in newest.data] == [f"msg_big{i:06d}" for i in (N - 1, N - 2, N - 3)] and newest.has_more
    oldest = client.conversations.items.list("thread_big", order="asc", limit=2)
    assert [i.id for i in oldest.data] == ["msg_big000000", "msg_big000001"]
    later = client.conversations.items.list("thread_big", order="asc", limit=1, after="msg_big050000")
    assert later.data[0].id == "msg_big050001"
