"""The database file and the working folder are private to their owner (issue 19: consent
records hold names, and the file was readable by every user of the machine): created 0600
and 0700, with a warning, once, when existing ones are open to others."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from rempart.config import load_settings
from rempart.store.db import Database


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_database_file_and_home_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless told
    try:
        home = tmp_path / "home"
        settings = load_settings(home=home)
        assert _mode(home) == 0o700
        db = Database(settings.db_url)
        db.instance_id()  # write something (WAL files appear)
        db.dispose()
        path = home / "rempart.db"
        assert _mode(path) == 0o600
        other = tmp_path / "elsewhere" / "deep" / "x.db"
        Database(f"sqlite:///{other}").dispose()
        assert _mode(other) == 0o600 and _mode(other.parent) == 0o700
        for extra in path.parent.glob("rempart.db-*"):
            assert _mode(extra) & 0o077 == 0, extra
    finally:
        os.umask(old)


def test_open_database_file_and_home_are_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "open-home"
    home.mkdir()
    home.chmod(0o755)
    path = home / "rempart.db"
    Database(f"sqlite:///{path}").dispose()
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="rempart"):
        load_settings(home=home)
        load_settings(home=home)
        Database(f"sqlite:///{path}").dispose()
        Database(f"sqlite:///{path}").dispose()
    home_warnings = [r for r in caplog.records if "working folder" in r.getMessage()]
    file_warnings = [r for r in caplog.records if "database file" in r.getMessage()]
    assert len(home_warnings) == 1 and len(file_warnings) == 1
    assert str(path) in file_warnings[0].getMessage()
    assert "chmod 600" in file_warnings[0].getMessage()
    assert "chmod 700" in home_warnings[0].getMessage()
    assert _mode(path) == 0o644  # warned, not changed behind her back
