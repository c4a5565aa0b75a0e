"""Ids are never given twice (a withdrawn entry's id once went to another victim's entry),
and a match is one (found content, bank entry) however often it is seen: scanning a folder
three times once queued every match three times and the statistics counted them all."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from rempart.samples import photo_like
from rempart.store.db import Database, alembic_config, normalise_url
from rempart.store.models import BankItem, Match, MatchOccurrence
from tests.cases.test_review import rempart
from tests.postgres import PostgresServer
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases
_names = itertools.count(1)


def test_bank_entry_ids_are_not_reused_after_a_withdrawal(
    review_case: Restored, consent_file: Path
) -> None:
    rempart_env = review_case.path  # scanned_case: two entries under C-9, two matches
    before = json.loads(rempart("case", "show", "C-9", "--format", "json"))["bank_entries"]
    matches = [m["ref"] for m in json.loads(rempart("review", "list", "--format", "json"))]
    rempart("case", "withdraw", "C-9", "--yes")
    rempart(
        "bank",
        "import",
        "b",
        str(rempart_env / "s.json"),
        "--case",
        "C-10",
        "--consent",
        str(consent_file),
    )
    after = json.loads(rempart("case", "show", "C-10", "--format", "json"))["bank_entries"]
    assert len(after) == 2 and min(after) > max(before), (before, after)
    rempart("scan", str(rempart_env / "found"), "--bank", "b")
    again = [m["ref"] for m in json.loads(rempart("review", "list", "--format", "json"))]
    assert len(again) == 2 and not set(again) & set(matches), (matches, again)


def test_a_folder_scanned_three_times_is_reviewed_once(review_case: Restored) -> None:
    rempart_env = review_case.path  # scanned_case
    found = rempart_env / "found"
    photo_like(1, (320, 240)).rotate(90, expand=True).save(found / "same-again.png")  # a dup
    for n in (2, 3):
        rempart("scan", str(found), "--bank", "b", "--report", str(rempart_env / f"r{n}.json"))
        # each scan's report still says what it found
        assert len(json.loads((rempart_env / f"r{n}.json").read_text())["matches"]) == 3
    pending = json.loads(rempart("review", "list", "--format", "json"))
    assert len(pending) == 2, pending
    assert sorted(p["sightings"] for p in pending) == [3, 5]  # where each was seen, counted
    first = pending[0]["ref"]
    rempart("review", "decide", first, "not-her", "--reason", "someone else")
    rempart("scan", str(found), "--bank", "b")
    assert [p["ref"] for p in json.loads(rempart("review", "list", "--format", "json"))] == [
        pending[1]["ref"]
    ]  # decided once: not queued again
    db = Database(os.environ["REMPART_DB"])
    try:
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Match)) == 2
            seen = dict(
                s.execute(
                    select(MatchOccurrence.match_id, func.count()).group_by(
                        MatchOccurrence.match_id
                    )
                ).all()
            )
        assert sorted(seen.values()) == [4, 7], seen  # 4 scans; the duplicate in the last 3
    finally:
        db.dispose()
    rempart("report", "--out", str(rempart_env / "report"))
    stats = json.loads((rempart_env / "report" / "stats.json").read_text())
    assert sum(stats["matches_per_day"].values()) == 2
    assert stats["review"] == {"pending": 1, "not-her": 1}


@pytest.fixture
def empty_db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with no schema at all (not copied from the migrated template)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"upgrade_{next(_names)}"
    server.admin(f"CREATE DATABASE {name}")
    try:
        yield server.url(name)
    finally:
        server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_upgrading_a_database_keeps_every_row_and_stops_reusing_ids(empty_db_url: str) -> None:
    """0012 rebuilds tables on SQLite: no row may be lost (a DROP TABLE with foreign keys
    on would delete every row that references it)."""
    from alembic import command

    db_url = empty_db_url
    url = normalise_url(db_url)
    cfg = alembic_config(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011_sync")
        conn.execute(
            text(
                "insert into banks (name, description, pdq_threshold, created_at) "
                "values ('b', '', 31, '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "insert into cases (number, status, created_at, updated_at) values "
                "('C-1', 'open', '2026-01-01', '2026-01-01')"
            )
        )
        for n in (1, 2, 3):
            conn.execute(
                text(
                    "insert into bank_items (bank_id, case_id, media_type, created_at)"
                    " values (1, 1, 'image', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "insert into item_signals (item_id, signal_type, value, extra) "
                    f"values ({n}, 'md5', '{n:032x}', '{{}}')"
                )
            )
        conn.execute(
            text(
                "insert into scan_runs (started_at, status, sources, options, summary)"
                " values ('2026-01-02', 'finished', '{}', '{}', '{}')"
            )
        )
        conn.execute(
            text(
                "insert into scan_items (scan_id, locator, status, sha256, provenance,"
                " media_type, created_at) values (1, '/x.jpg', 'matched', "
                f"'{'ab' * 32}', '{{}}', 'image', '2026-01-02')"
            )
        )
        conn.execute(
            text(
                "insert into matches (scan_item_id, bank_item_id, signal_type, "
                "distance, review_status, created_at, possible_minor) values "
                "(1, 3, 'md5', 0, 'confirmed', '2026-01-02', false)"
            )
        )
    engine.dispose()
    db = Database(db_url)  # upgraded to the head
    try:
        with db.session() as s:
            assert s.scalar(text("select count(*) from item_signals")) == 3
            assert s.scalar(text("select count(*) from bank_items")) == 3
            m = s.scalars(select(Match)).one()
            assert m.content_sha256 == "ab" * 32 and m.review_status == "confirmed"
            assert s.scalar(select(func.count()).select_from(MatchOccurrence)) == 1
            s.delete(m)
            s.delete(s.get(BankItem, 3))  # the last entry, withdrawn
        with db.session() as s:
            entry = BankItem(bank_id=1, case_id=1, media_type="image")
            s.add(entry)
            s.flush()
            assert entry.id == 4
            assert s.scalar(text("select count(*) from item_signals")) == 2
        if db.backend == "sqlite":
            with db.engine.connect() as c:
                assert c.exec_driver_sql("pragma foreign_keys").scalar() == 1
                assert c.exec_driver_sql("pragma foreign_key_check").fetchall() == []
    finally:
        db.dispose()
