"""LiteLLM's proxy as the peer in bench/overhead/run.py (`--litellm`).

LiteLLM is not a dependency of Onward. On first use it is installed into its own virtual
environment under ~/.cache/onward-bench/ (`python -m venv` + `pip install "litellm[proxy]==X"`,
a few minutes), then reused. It runs as `litellm --config` with one worker and one model,
`fast`, routed to the same fake upstream as Onward, with no database and no master key: its
`/v1/responses` then bridges to the upstream's Chat Completions and stores nothing (LiteLLM
keeps responses only with a database; nothing here needs one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for common
import common  # noqa: E402

# Pinned. Not 1.107.0 (a compromised release). 1.108.0 and later need `litellm-proxy-extras`
# (and, from 1.110, `litellm-proxy`) versions that PyPI does not have, so `[proxy]` cannot be
# installed; 1.106.12 (2026-11-20) is the newest whose proxy extra resolves.
VERSION = "1.106.12"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "onward-bench"


def venv_dir(version: str = VERSION) -> Path:
    return CACHE / f"litellm-{version}"


def ensure_installed(say, version: str = VERSION) -> Path:
    """The `litellm` executable of the bench's own virtual environment, created and installed
    on first use (SystemExit with pip's last lines if that fails)."""
    home = venv_dir(version)
    exe = home / "bin" / "litellm"
    marker = home / ".installed"
    if marker.exists() and exe.exists():
        return exe
    say(f"installing litellm[proxy]=={version} into {home} (first use only; a few minutes)")
    home.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(home)],
        [str(home / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={version}"],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise SystemExit(f"installing LiteLLM failed ({' '.join(cmd[:3])} ...):\n{tail}")
    marker.write_text(version + "\n")
    return exe


def write_config(path: Path, upstream_port: int) -> Path:
    """One model, `fast`, on the fake upstream's Chat Completions; no database, no keys."""
    path.write_text(
        "model_list:\n"
        "  - model_name: fast\n"
        "    litellm_params:\n"
        "      model: openai/fake\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
        "      api_key: sk-bench\n"
        # Its /v1/responses would otherwise call the upstream's own /v1/responses (an `openai/`
        # model is taken to have one); this makes it bridge to Chat Completions, as Onward does.
        "      use_chat_completions_api: true\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  telemetry: false\n"
    )
    return path


def start(exe: Path, tmp: Path, upstream_port: int, log: Path, timeout: float = 180) -> common.Server:
    """`litellm --config` on a free port with one worker; returns once it answers
    /health/liveliness, with the process's CPU clock."""
    port = common.free_port()
    cfg = write_config(tmp / "litellm.yaml", upstream_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "DATABASE_URL", "OPENAI_", "ONWARD_"))}
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # no download of the cost map at start-up
        LITELLM_TELEMETRY="False",
        LITELLM_LOG="ERROR",
        DISABLE_SCHEMA_UPDATE="True",
        # No keys, as Onward runs here: LiteLLM refuses that unless told it is local (loopback).
        LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY="true",
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(exe), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp,
        )
    server = common.Server(proc, port, log, name="litellm")
    try:
        wait_live(proc, server.url, log, timeout)
    except SystemExit:
        common.stop_procs([proc])
        raise
    server.clock = common.ProcClock(proc.pid)
    return server


def wait_live(proc: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"litellm exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health/liveliness", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"litellm did not answer in {timeout:g} s:\n{log.read_text()[-3000:]}")
