"""One IPython kernel per container, started in the sandbox and driven over the Jupyter
messaging protocol (jupyter_client), so variables and imports persist between calls.

The kernel's ZeroMQ sockets are Unix sockets (`ipc` transport) in a private directory bound
into the sandbox: the kernel has no network namespace access at all, yet the server reaches it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import write_connection_file

from . import sandbox

log = logging.getLogger("onward.code_interpreter")
START_TIMEOUT = float(os.environ.get("ONWARD_CODE_INTERPRETER_START_TIMEOUT", "120"))
MAX_LOG_CHARS = 20_000  # of one call's output kept in `logs`
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class SandboxError(Exception):
    """The sandbox or its kernel could not start (a server-side problem, not the user's code)."""


@dataclass
class Result:
    """What one call produced: `logs` (stdout, stderr, the last value, tracebacks), PNG images
    the code displayed, and whether the code raised or ran out of time."""

    logs: str = ""
    images: list[bytes] = field(default_factory=list)
    error: bool = False
    timed_out: bool = False


class Kernel:
    def __init__(self, container_id: str, workdir: Path, limits: sandbox.Limits) -> None:
        self.container_id = container_id
        self.workdir = workdir
        self.limits = limits
        self.proc: asyncio.subprocess.Process | None = None
        self.client: AsyncKernelClient | None = None
        self.rundir: str | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Start the confined kernel and wait until it answers. Raises SandboxError."""
        as_root = os.geteuid() == 0
        uid = sandbox.container_uid(self.container_id) if as_root else os.geteuid()
        self.rundir = tempfile.mkdtemp(prefix="onward-ci-")  # short: Unix socket paths are ≤107 bytes
        conn_file, _info = write_connection_file(
            os.path.join(self.rundir, "kernel.json"), ip=os.path.join(self.rundir, "k"), transport="ipc", key=secrets.token_hex(16).encode()
        )
        os.chmod(conn_file, 0o400)
        if as_root:
            for path in (self.rundir, conn_file, str(self.workdir)):
                os.chown(path, uid, uid)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", conn_file, "--HistoryManager.enabled=False", "--IPKernelApp.parent_handle=0"]
        if sandbox.unconfined():
            cmd = argv
        else:
            cmd = sandbox.command(argv, self.workdir, Path(self.rundir), as_root=as_root, uid=uid)
        env = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "HOME": "/tmp", "MPLCONFIGDIR": "/tmp", "PATH": "/usr/bin:/bin"}
        if sandbox.unconfined():
            env["MPLCONFIGDIR"] = env["HOME"] = self.rundir
        logfile = open(os.path.join(self.rundir, "kernel.log"), "wb")  # noqa: SIM115, ASYNC230 - the child keeps it
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                env=env,
                cwd=str(self.workdir),
                preexec_fn=sandbox.preexec(self.limits),
            )
        except OSError as exc:
            raise SandboxError(f"The sandbox could not start: {exc}") from exc
        finally:
            logfile.close()
        client = AsyncKernelClient()
        client.load_connection_file(conn_file)
        client.start_channels(hb=False)  # liveness is the process itself
        self.client = client
        ready = asyncio.ensure_future(client.wait_for_ready(timeout=START_TIMEOUT))
        died = asyncio.ensure_future(self.proc.wait())
        done, _ = await asyncio.wait({ready, died}, return_when=asyncio.FIRST_COMPLETED)
        died.cancel()
        if ready not in done or ready.exception() is not None:
            ready.cancel()
            why = repr(ready.exception()) if ready in done else self._log_tail()
            await self.stop()
            raise SandboxError(f"The sandboxed Python kernel did not start: {why or 'it exited'}")
        log.info("kernel for %s started (pid %s)", self.container_id, self.proc.pid)

    def _log_tail(self) -> str:
        if not self.rundir:
            return ""
        with contextlib.suppress(OSError):
            return Path(self.rundir, "kernel.log").read_text(errors="replace")[-500:].strip()
        return ""

    async def execute(self, code: str, seconds: float) -> Result:
        """Run `code`; the kernel is stopped (its state lost) if it runs past `seconds`
        or dies (e.g. past its memory limit)."""
        assert self.client is not None
        result = Result()
        parts: list[str] = []
        msg_id = self.client.execute(code, store_history=True, allow_stdin=False, stop_on_error=False)
        try:
            async with asyncio.timeout(seconds):
                await self._collect(msg_id, result, parts)
        except TimeoutError:
            result.timed_out = result.error = True
            parts.append(f"\nExecution timed out after {seconds:g} seconds; the kernel was stopped and its state is lost.")
            await self.stop()
        except _KernelDied:
            result.error = True
            parts.append("\nThe kernel died (it may have run out of memory or processes); its state is lost.")
            await self.stop()
        logs = _ANSI.sub("", "".join(parts))
        if len(logs) > MAX_LOG_CHARS:
            logs = logs[: MAX_LOG_CHARS // 2] + "\n… (output truncated) …\n" + logs[-MAX_LOG_CHARS // 2 :]
        result.logs = logs
        return result

    async def _collect(self, msg_id: str, result: Result, parts: list[str]) -> None:
        assert self.client is not None
        while True:
            try:
                msg = await self.client.get_iopub_msg(timeout=1.0)
            except Exception:  # queue.Empty: check that the kernel still lives
                if not self.alive:
                    raise _KernelDied from None
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                parts.append(content.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                data: dict[str, Any] = content.get("data", {})
                if "image/png" in data:
                    result.images.append(base64.b64decode(data["image/png"]))
                elif "text/plain" in data:
                    parts.append(data["text/plain"] + "\n")
            elif kind == "error":
                result.error = True
                parts.append("\n".join(content.get("traceback") or [f"{content.get('ename')}: {content.get('evalue')}"]) + "\n")
            elif kind == "status" and content.get("execution_state") == "idle":
                return

    async def stop(self) -> None:
        """Kill the kernel and everything it started, and remove its socket directory."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.stop_channels()
            self.client = None
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # bwrap and its pid namespace's init: the namespace dies with it
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 10)
        if self.rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)
            self.rundir = None

    def memory_rss(self) -> int:
        """Resident bytes of the kernel's process tree (for measurements)."""
        if self.proc is None:
            return 0
        return _tree_rss(self.proc.pid)


class _KernelDied(Exception):
    pass


def _tree_rss(pid: int) -> int:
    total = 0
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    stack = [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total
