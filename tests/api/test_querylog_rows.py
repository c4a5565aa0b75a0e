"""The query log's rows (api/querylog.py) as stored: on SQLite they are written by the
driver's executemany with the values SQLAlchemy's own column types make (issue 22 item 3:
a third of the CPU of the table's INSERT). The stored text must be what the table's INSERT
writes, and read back through the model as it was given."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from rempart.api import querylog
from rempart.api.querylog import QueryLog
from rempart.store.db import Database
from rempart.store.models import ApiQuery
from tests.conftest import migrated_sqlite_url

AT = datetime(2026, 12, 2, 14, 30, 0, 0, tzinfo=UTC)  # microsecond 0: still 6 digits stored
MATCHED = [{"bank": "ncii", "bank_entry": 7, "distance": 3}]


def _raw(db: Database) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT tenant_id, api_key_id, at, endpoint, signal_type, signal, "
                "match_count, matched FROM api_queries ORDER BY id"
            )
        ]


def test_rows_stored_as_the_tables_insert_stores_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(querylog, "utcnow", lambda: AT)
    fast = Database(migrated_sqlite_url(tmp_path / "fast.db"))
    log = QueryLog(fast)
    log.add(None, None, "lookup", [("pdq", "ab" * 32, MATCHED), ("md5", "f" * 32, [])])
    log.flush()
    rows = [querylog._as_dict(r) for r in [(None, None, AT, "lookup", "pdq", "ab" * 32, MATCHED)]]
    rows.append(querylog._as_dict((None, None, AT, "lookup", "md5", "f" * 32, [])))
    core = Database(migrated_sqlite_url(tmp_path / "core.db"))
    with core.engine.begin() as conn:
        conn.execute(insert(querylog._TABLE), rows)
    assert _raw(fast) == _raw(core)
    assert _raw(fast)[0][2] == "2026-12-02 14:30:00.000000"
    with fast.session() as s:
        got = s.execute(select(ApiQuery).order_by(ApiQuery.id)).scalars().all()
        assert [(q.signal_type, q.match_count, q.matched) for q in got] == [
            ("pdq", 1, MATCHED),
            ("md5", 0, []),
        ]
        assert got[0].at.replace(tzinfo=UTC) == AT
    fast.dispose()
    core.dispose()


def test_rows_kept_when_the_write_fails(tmp_path: Path) -> None:
    db = Database(migrated_sqlite_url(tmp_path / "q.db"))
    log = QueryLog(db)
    log.add(999, None, "lookup", [("pdq", "0" * 64, [])])  # no tenant 999: refused
    log.flush()
    assert len(log._rows) == 1
    db.dispose()
