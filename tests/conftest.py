"""Shared fixtures: an isolated Rempart home and database per test, and sample media."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


@pytest.fixture
def rempart_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """REMPART_HOME and REMPART_DB pointing into a fresh temporary folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("REMPART_HOME", str(home))
    monkeypatch.setenv("REMPART_DB", str(tmp_path / "rempart.db"))
    yield tmp_path


@pytest.fixture
def consent_file(tmp_path: Path) -> Path:
    path = tmp_path / "consent.json"
    path.write_text(
        '{"given_by": "Test Person", "given_at": "2026-11-01", '
        '"purpose": "find and remove copies of my images"}'
    )
    return path
