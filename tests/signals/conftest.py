"""Fixtures for signal tests: where the shared reference data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

# ../shared/testdata beside the checkout (read in place, never copied into the repository)
TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
THREATEXCHANGE = TESTDATA / "threatexchange"


@pytest.fixture
def threatexchange_data() -> Path:
    if not THREATEXCHANGE.is_dir():
        raise RuntimeError(f"reference test data not found: {THREATEXCHANGE}")
    return THREATEXCHANGE
