"""A withdrawal made in the same second as her consent: the ledger once kept its time to the
second, so a consent recorded 0.3 s earlier looked recorded after the withdrawal, and
re-applying the ledger left her case open (found by a clean `make test` on a fast run)."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from rempart.cli import app
from rempart.config import ledger_path
from rempart.samples import photo_like
from rempart.store import withdrawal_ledger
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database

runner = CliRunner()


def rempart(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_consent_in_the_same_second_as_the_withdrawal(
    rempart_env: Path, consent_file: Path
) -> None:
    tmp, home = rempart_env, rempart_env / "home"
    db_file = Path(os.environ["REMPART_DB"].removeprefix("sqlite:///"))
    (tmp / "hers").mkdir()
    photo_like(6, (160, 120)).save(tmp / "hers" / "6.jpg", quality=90)
    rempart("hash", str(tmp / "hers"), "--out", str(tmp / "s.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank", "import", "b", str(tmp / "s.json"), "--case", "C-8", "--consent", str(consent_file)
    )
    with sqlite3.connect(db_file) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with sqlite3.connect(db_file) as live, sqlite3.connect(tmp / "before.db") as copy:
        live.backup(copy)
    rempart("case", "withdraw", "C-8", "--yes")
    ledger = withdrawal_ledger.read(ledger_path(home))
    assert ledger is not None
    written = ledger.entries[-1]["at"]
    at = datetime.fromisoformat(written)
    # the older database back, her consent recorded just before the withdrawal, in its second
    with sqlite3.connect(tmp / "before.db") as old, sqlite3.connect(db_file) as live:
        old.backup(live)
    if "." in written:  # to the microsecond: halfway between the second's start and it
        recorded = at - timedelta(microseconds=at.microsecond // 2)
    else:  # an older ledger's entry, to the second: a consent within that second
        recorded = at + timedelta(milliseconds=500)
    with sqlite3.connect(db_file) as con:
        stored = con.execute("SELECT recorded_at FROM consents").fetchone()[0]
        value = recorded.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        if "+" in str(stored):  # stored with its offset
            value = recorded.isoformat(sep=" ")
        con.execute("UPDATE consents SET recorded_at = ?", (value,))
    db = Database(os.environ["REMPART_DB"])
    done = withdrawal_ledger.enforce(BankIndex(db, home), home, reason="restore", force=True)
    db.dispose()
    assert done.cases == 1, done
    view = json.loads(rempart("case", "show", "C-8", "--format", "json"))
    assert view["status"] == "withdrawn" and view["bank_entries"] == []


def test_a_withdrawn_case_takes_no_new_entries(rempart_env: Path, consent_file: Path) -> None:
    """Her case withdrawn, an import into it is refused with a message (it was accepted and
    left a withdrawn case holding live entries); a new case takes the same photo, and
    re-applying the ledger leaves that one alone."""
    tmp, home = rempart_env, rempart_env / "home"
    (tmp / "hers").mkdir()
    photo_like(7, (160, 120)).save(tmp / "hers" / "7.jpg", quality=90)
    rempart("hash", str(tmp / "hers"), "--out", str(tmp / "s.json"))
    rempart("bank", "create", "b")
    again = ["bank", "import", "b", str(tmp / "s.json"), "--consent", str(consent_file)]
    rempart(*again, "--case", "C-5")
    rempart("case", "withdraw", "C-5", "--yes")
    refused = runner.invoke(app, [*again, "--case", "C-5"], env={"COLUMNS": "300"})
    assert refused.exit_code == 1 and "C-5 was withdrawn" in refused.output, refused.output
    assert json.loads(rempart("case", "show", "C-5", "--format", "json"))["bank_entries"] == []
    rempart(*again, "--case", "C-6")
    db = Database(os.environ["REMPART_DB"])
    try:
        done = withdrawal_ledger.enforce(BankIndex(db, home), home, reason="serve", force=True)
    finally:
        db.dispose()
    assert (done.bank_entries, done.cases) == (0, 0), done
    assert len(json.loads(rempart("case", "show", "C-6", "--format", "json"))["bank_entries"]) == 1
