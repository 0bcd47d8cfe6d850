"""The bubblewrap command line that confines one container's kernel, and its limits.

What confines what (docs/code-interpreter.md):
- Namespaces: new network (only a loopback nobody listens on: no route to the host or
  anywhere), PID, IPC, UTS and cgroup namespaces; `--die-with-parent` and `--new-session`.
- Filesystem: an empty root with read-only binds of /usr (and its /lib, /bin links), the Python
  environment the kernel runs from (this venv and its base interpreter, nothing else), a few
  files of /etc; `/mnt/data` (the container's directory) and the kernel's socket directory are
  the only writable binds; `/tmp` is a private tmpfs. The data directory, the checkout and
  home directories are not there.
- Identity: when the server runs as root, bwrap keeps the host's user namespace (so ordinary
  rlimits hold: root ignores RLIMIT_NPROC) and the kernel runs as an unprivileged uid of its own
  per container, with every capability dropped and no_new_privs. Otherwise bwrap also unshares
  the user namespace and the kernel runs as the server's uid mapped inside it.
- Limits (rlimits set before bwrap starts, inherited by everything inside): address space
  (memory), processes (fork bombs), CPU seconds, open files, file size. Wall time per call is
  the server's: it interrupts the kernel, then kills the whole process group.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MEMORY_LIMITS = {"1g": 1 << 30, "4g": 4 << 30, "16g": 16 << 30, "64g": 64 << 30}
UID_BASE = 200_000  # per-container uids when the server runs as root: 200000..(200000+2^20)
ETC_FILES = ("/etc/fonts", "/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/mime.types")


@dataclass(frozen=True)
class Limits:
    """Per-kernel limits. `memory`: bytes of address space; `cpu_seconds`: CPU time of the
    kernel's whole life (it is restarted past it); `timeout`: wall seconds per call."""

    memory: int = 1 << 30
    processes: int = 64
    cpu_seconds: int = 600
    open_files: int = 256
    file_bytes: int = 512 << 20
    timeout: float = 60.0

    @classmethod
    def from_env(cls, memory_limit: str | None = None) -> Limits:
        env = os.environ.get
        memory = MEMORY_LIMITS.get(memory_limit or "1g", 1 << 30)
        if env("ONWARD_CODE_INTERPRETER_MEMORY_MB"):
            memory = min(memory, int(env("ONWARD_CODE_INTERPRETER_MEMORY_MB", "0")) << 20)
        return cls(
            memory=memory,
            processes=int(env("ONWARD_CODE_INTERPRETER_PROCESSES", "64")),
            cpu_seconds=int(env("ONWARD_CODE_INTERPRETER_CPU_SECONDS", "600")),
            timeout=float(env("ONWARD_CODE_INTERPRETER_TIMEOUT", "60")),
        )


def unconfined() -> bool:
    """The operator's explicit choice to run kernels without bubblewrap (a warning at start)."""
    return os.environ.get("ONWARD_CODE_INTERPRETER_UNCONFINED", "") in ("1", "true", "yes")


def container_uid(container_id: str) -> int:
    """A stable unprivileged uid per container (used when the server runs as root)."""
    return UID_BASE + int.from_bytes(hashlib.sha256(container_id.encode()).digest()[:3], "big") % (1 << 20)


def python_roots() -> list[str]:
    """The directories the kernel's interpreter needs: this environment and its base Python."""
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), os.path.realpath(sys.exec_prefix)}
    return sorted(r for r in roots if not r.startswith("/usr"))


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def command(argv: list[str], workdir: Path, rundir: Path, *, as_root: bool, uid: int) -> list[str]:
    """The bwrap command running `argv` confined, `workdir` at /mnt/data, `rundir` (the kernel's
    sockets and connection file) at its own path."""
    bwrap = shutil.which("bwrap") or "bwrap"
    cmd = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not as_root:
        cmd.append("--unshare-user")
    cmd += ["--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "lib32", "bin", "sbin"):
        target = f"/{name}"
        if os.path.islink(target):
            cmd += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            cmd += ["--ro-bind", target, target]
    for path in ETC_FILES:
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    made: set[str] = {"/usr", "/mnt", "/tmp"}
    binds = python_roots() + [str(rundir)]
    for root in binds:
        for parent in _parents(root):
            if parent not in made:
                made.add(parent)
                cmd += ["--perms", "0755", "--dir", parent]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", "--perms", "0755", "--dir", "/mnt"]
    for root in python_roots():
        cmd += ["--ro-bind", root, root]
    cmd += ["--bind", str(workdir), "/mnt/data", "--bind", str(rundir), str(rundir), "--chdir", "/mnt/data"]
    cmd += ["--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "MPLBACKEND", "module://matplotlib_inline.backend_inline", "--setenv", "MPLCONFIGDIR", "/tmp"]
    cmd += ["--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]
    if as_root:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        cmd += [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return cmd + argv


def preexec(limits: Limits):  # type: ignore[no-untyped-def]
    """The function the child runs before exec: a new process group and the rlimits."""

    def apply() -> None:
        os.setpgrp()
        for which, value in (
            (resource.RLIMIT_AS, limits.memory),
            (resource.RLIMIT_NPROC, limits.processes),
            (resource.RLIMIT_CPU, limits.cpu_seconds),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_FSIZE, limits.file_bytes),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(which, (value, value))

    return apply


def check() -> str | None:
    """None if bubblewrap can confine a process here, else why not (for the start-up log and
    the error a call gets)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed; install the 'bubblewrap' package"
    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="onward-ci-") as tmp:
        if as_root:
            os.chown(tmp, UID_BASE, UID_BASE)
        probe = command([sys.executable, "-c", "import ipykernel_launcher"], Path(tmp), Path(tmp), as_root=as_root, uid=UID_BASE)
        try:
            done = subprocess.run(probe, capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap failed to start: {exc}"
    if done.returncode != 0:
        return f"the sandbox cannot start here: {done.stderr.decode(errors='replace').strip()[-500:]}"
    return None
