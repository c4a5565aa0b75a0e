"""Case states that tests of several files start from, built once per session (per xdist
worker) and backend (tests/worlds.py).

- `telegram_case`: her photo hashed and banked under case C-7 with consent, a Telegram export
  (chat 'Room A', id 555) scanned, the match of message 2 confirmed by caseworker `cw`
  (`confirmed_telegram_match` in test_notices.py); its `value` is the match's reference.
- `review_case`: her two photos hashed (s.json) and banked in bank `b` under case C-9 with
  consent, a folder `found/` (rotated copies of both, and another photo) scanned: two pending
  matches (`scanned_case` in test_review.py).

Each test gets its own copy (its folder restored, its own database), so a test that changes
the state changes only its copy, as when it ran the commands itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worlds import Restored, Worlds, worlds_fixture


def _confirmed_telegram_match(home: Path, consent: Path) -> str:
    from tests.cases.test_notices import confirmed_telegram_match

    return confirmed_telegram_match(home, consent)


def _scanned_case(home: Path, consent: Path) -> None:
    from tests.cases.test_review import scanned_case

    scanned_case(home, consent)


telegram_worlds = worlds_fixture(_confirmed_telegram_match, scope="session")
review_worlds = worlds_fixture(_scanned_case, scope="session")


@pytest.fixture
def telegram_case(
    telegram_worlds: Worlds, db_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Restored]:
    yield from telegram_worlds.restore(db_backend, request, tmp_path)


@pytest.fixture
def review_case(
    review_worlds: Worlds, db_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Restored]:
    yield from review_worlds.restore(db_backend, request, tmp_path)
