"""Settings from the environment (ONWARD_*) and an optional TOML file of model routes."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("onward.config")
DEFAULT_DATA_DIR = Path(os.environ.get("ONWARD_DATA_DIR", Path.home() / ".onward"))


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"ONWARD_{name}", default)


_warned: set[str] = set()


def _background_jobs(default: int) -> int:
    """ONWARD_BACKGROUND_JOBS, or its old name ONWARD_WORKERS (read, with one warning per
    process: `--workers` now means server processes, as in uvicorn and gunicorn)."""
    value = _env("BACKGROUND_JOBS")
    if value is None and _env("WORKERS") is not None:
        value = _env("WORKERS")
        if "WORKERS" not in _warned:
            _warned.add("WORKERS")
            log.warning("ONWARD_WORKERS is deprecated: it is now ONWARD_BACKGROUND_JOBS (background jobs one process runs at once); --workers / ONWARD_PROCESSES sets server processes")
    return int(value) if value else default


@dataclass
class ModelRoute:
    """One model name clients may ask for, and where it is served."""

    name: str
    provider: str  # local | chat_completions | openai_responses | scripted
    upstream_model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    api_key_setting: str | None = None  # as written in the models file ("env:NAME" or a literal key)
    context_window: int | None = None
    aliases: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    models_file: Path | None = None
    api_keys: list[str] = field(default_factory=list)
    default_model: str | None = None
    fallback_model: str | None = None  # the route serving names no route lists (models file `fallback`)
    models: list[ModelRoute] = field(default_factory=list)
    background_jobs: int = 4  # background responses (and, separately, Assistants runs) one process executes at once
    processes: int = 1  # `onward serve --workers N`: server processes behind one port (PostgreSQL only)
    upstream_timeout: float = 600.0
    upstream_retries: int = 3
    upstream_connections: int = 4096  # open connections per HTTP model route (one per stream in flight)
    lease_seconds: float = 30.0  # a background job whose worker is silent this long is orphaned
    redis_url: str | None = None  # rate limits shared by every process using it (else per process)
    redis_prefix: str = "onward:rl:"  # key prefix in Redis (several deployments on one Redis)

    @property
    def public_url(self) -> str:
        """The server's base URL as clients reach it (ONWARD_PUBLIC_URL, else host and port):
        links to container files (code interpreter images) start with it."""
        url = _env("PUBLIC_URL")
        if url:
            return url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        s = cls()
        s.host = _env("HOST", s.host) or s.host
        s.port = int(_env("PORT", str(s.port)) or s.port)
        s.data_dir = Path(_env("DATA_DIR", str(s.data_dir)) or s.data_dir)
        s.database_url = _env("DATABASE_URL", "") or ""
        models_file = _env("MODELS_FILE")
        s.models_file = Path(models_file) if models_file else None
        keys = _env("API_KEYS", "") or ""
        s.api_keys = [k.strip() for k in keys.split(",") if k.strip()]
        s.default_model = _env("DEFAULT_MODEL")
        s.background_jobs = _background_jobs(s.background_jobs)
        s.processes = int(_env("PROCESSES", str(s.processes)) or s.processes)
        s.upstream_timeout = float(_env("UPSTREAM_TIMEOUT", str(s.upstream_timeout)) or 600)
        s.upstream_retries = int(_env("UPSTREAM_RETRIES", str(s.upstream_retries)) or 3)
        s.upstream_connections = int(_env("UPSTREAM_CONNECTIONS", str(s.upstream_connections)) or s.upstream_connections)
        s.redis_url = _env("REDIS_URL") or None
        s.redis_prefix = _env("REDIS_PREFIX", s.redis_prefix) or s.redis_prefix
        s.lease_seconds = float(_env("LEASE_SECONDS", str(s.lease_seconds)) or 30)
        for key, value in overrides.items():
            if value is not None:
                setattr(s, key, value)
        if isinstance(s.models_file, str):
            s.models_file = Path(s.models_file)
        if not s.database_url:
            s.data_dir.mkdir(parents=True, exist_ok=True)
            s.database_url = f"sqlite+aiosqlite:///{s.data_dir / 'onward.db'}"
        if s.models_file:
            s.load_models(s.models_file)
        return s

    def load_models(self, path: Path) -> None:
        """Read `[models.<name>]` tables from a TOML file.

        ```toml
        default = "smollm2"
        fallback = "smollm2"             # optional: serves model names no route lists
        [models.smollm2]
        provider = "local"
        aliases = ["gpt-4o-mini"]
        [models.llama]
        provider = "chat_completions"
        base_url = "http://127.0.0.1:8080/v1"
        upstream_model = "llama-3.1-8b"
        api_key = "env:UPSTREAM_KEY"   # read from the environment
        ```
        """
        data = tomllib.loads(path.read_text())
        self.default_model = self.default_model or data.get("default")
        fallback = data.get("fallback")
        if fallback is not None and not isinstance(fallback, str):
            raise ValueError(f"{path}: 'fallback' must be the name of a model route, got {fallback!r}")
        self.fallback_model = fallback
        for name, spec in (data.get("models") or {}).items():
            spec = dict(spec)
            setting = spec.pop("api_key", None)
            key = setting
            if isinstance(key, str) and key.startswith("env:"):
                key = os.environ.get(key[4:]) or None
            self.models.append(
                ModelRoute(
                    name=name,
                    provider=spec.pop("provider", "chat_completions"),
                    upstream_model=spec.pop("upstream_model", None),
                    base_url=spec.pop("base_url", None),
                    api_key=key,
                    api_key_setting=setting if isinstance(setting, str) else None,
                    context_window=spec.pop("context_window", None),
                    aliases=list(spec.pop("aliases", [])),
                    options=spec,
                )
            )
        known = {name for r in self.models for name in (r.name, *r.aliases)}
        for key, value in (("default", self.default_model), ("fallback", self.fallback_model)):
            if value is not None and value not in known:
                raise ValueError(f"{path}: {key} {value!r} is not a model route or alias here ({', '.join(sorted(known))})")
