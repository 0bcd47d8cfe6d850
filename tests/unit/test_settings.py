"""Settings from the environment: the background-jobs setting and its deprecated name."""

from __future__ import annotations

import logging

from onward import config
from onward.config import Settings


def test_background_jobs_and_its_old_name(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("ONWARD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ONWARD_WORKERS", raising=False)
    monkeypatch.delenv("ONWARD_BACKGROUND_JOBS", raising=False)
    monkeypatch.setattr(config, "_warned", set())
    s = Settings.from_env()
    assert s.background_jobs == 4 and s.processes == 1
    monkeypatch.setenv("ONWARD_BACKGROUND_JOBS", "2")
    monkeypatch.setenv("ONWARD_PROCESSES", "3")
    s = Settings.from_env()
    assert s.background_jobs == 2 and s.processes == 3
    assert not [r for r in caplog.records if "deprecated" in r.message]
    # ONWARD_WORKERS still sets background jobs (not processes), with one warning per process
    monkeypatch.delenv("ONWARD_BACKGROUND_JOBS")
    monkeypatch.setenv("ONWARD_WORKERS", "7")
    with caplog.at_level(logging.WARNING, logger="onward.config"):
        assert Settings.from_env().background_jobs == 7
        assert Settings.from_env(processes=2).processes == 2
    warnings = [r.message for r in caplog.records if "ONWARD_WORKERS is deprecated" in r.message]
    assert len(warnings) == 1 and "ONWARD_BACKGROUND_JOBS" in warnings[0]
    # the new name wins over the old one
    monkeypatch.setenv("ONWARD_BACKGROUND_JOBS", "1")
    assert Settings.from_env().background_jobs == 1
