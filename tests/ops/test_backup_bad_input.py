"""Bad input to backup, verify and restore: a wrong passphrase, a truncated or altered
backup, one from a newer schema, a restore over a home or a database in use, a damaged
withdrawal ledger: each a clear error naming it, and nothing changed."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.config import load_settings
from rempart.ops import backup as ops_backup
from rempart.store import withdrawal_ledger
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database

runner = CliRunner()
PASSPHRASE = "a long and private passphrase"
FAST = 1 << 14  # scrypt cost for the test's backups (the default is 1 << 17)


def run(*args: str, code: int, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", **(env or {})})
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return " ".join(result.output.split())


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def made(rempart_env: Path, consent_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small instance (one bank) and its backup."""
    monkeypatch.setenv("REMPART_BACKUP_PASSPHRASE", PASSPHRASE)
    run("bank", "create", "b", code=0)
    out = rempart_env / "b.bak"
    ops_backup.backup(load_settings(), out, PASSPHRASE, scrypt_n=FAST)
    return out


def test_bad_backups_are_refused_and_nothing_changes(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = made.read_bytes()
    home2 = tmp_path / "home2"
    env2 = {"REMPART_HOME": str(home2), "REMPART_DB": f"sqlite:///{home2 / 'rempart.db'}"}
    bad = {
        "short.bak": (data[:10], "not a Rempart backup"),
        "header.bak": (data[:40], "truncated"),
        "cut.bak": (data[: len(data) // 2], "truncated"),
        "nomanifest.bak": (data[: data.rfind(b"{") - 200], "truncated"),
        "flipped.bak": (
            data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 1]) + data[len(data) // 2 + 1 :],
            "altered",
        ),
        "tail.bak": (data + b"x", "altered"),
        "other.bak": (b"PK\x03\x04 a zip, not a backup", "not a Rempart backup"),
    }
    for name, (content, why) in bad.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert why in run("backup", "verify", str(path), code=1), name
        assert why in run("restore", str(path), code=1, env=env2), name
        assert listing(home2) == {}, name  # nothing restored, no database made
    wrong = {"REMPART_BACKUP_PASSPHRASE": "not the passphrase at all"}
    assert "wrong passphrase" in run("backup", "verify", str(made), code=1, env=wrong)
    assert "wrong passphrase" in run("restore", str(made), code=1, env={**env2, **wrong})
    assert listing(home2) == {}
    # a passphrase file (trailing newline dropped); an empty one is refused
    (tmp_path / "pass").write_text(PASSPHRASE + "\n")
    run("backup", "verify", str(made), "--passphrase-file", str(tmp_path / "pass"), code=0)
    (tmp_path / "empty").write_text("")
    out = run("backup", "verify", str(made), "--passphrase-file", str(tmp_path / "empty"), code=1)
    assert "empty" in out

    # a backup made by a newer Rempart (a schema this one does not know)
    real = ops_backup._facts
    monkeypatch.setattr(
        ops_backup, "_facts", lambda rows: replace(real(rows), schema="9999_future")
    )
    newer = tmp_path / "newer.bak"
    ops_backup.backup(load_settings(), newer, PASSPHRASE, scrypt_n=FAST)
    monkeypatch.setattr(ops_backup, "_facts", real)
    assert "newer than this Rempart knows" in run("backup", "verify", str(newer), code=1)
    assert "newer than this Rempart knows" in run("restore", str(newer), code=1, env=env2)
    assert listing(home2) == {}
    # the good backup still restores
    run("restore", str(made), code=0, env=env2)


def test_backup_refusals(made: Path, rempart_env: Path) -> None:
    short = {"REMPART_BACKUP_PASSPHRASE": "short"}
    out = run("backup", "--out", str(rempart_env / "x.bak"), code=1, env=short)
    assert "at least 10 characters" in out and not (rempart_env / "x.bak").exists()
    before = made.read_bytes()
    assert "already exists" in run("backup", "--out", str(made), code=1)
    assert made.read_bytes() == before
    assert "--out FILE" in run("backup", code=1)


def test_restore_never_overwrites(made: Path, rempart_env: Path, tmp_path: Path) -> None:
    home = rempart_env / "home"
    before = listing(home)
    out = run("restore", str(made), code=1)  # over the home the backup came from
    assert "is not empty" in out and "never overwrites" in out
    assert listing(home) == before
    # an empty home, but a database that holds data
    home3 = tmp_path / "home3"
    env3 = {"REMPART_HOME": str(home3), "REMPART_DB": os.environ["REMPART_DB"]}
    out = run("restore", str(made), code=1, env=env3)
    assert "the database is not empty" in out
    assert listing(home3) == {} and listing(home) == before


def test_a_damaged_ledger_stops_restore_and_serve(
    made: Path, rempart_env: Path, consent_file: Path, tmp_path: Path
) -> None:
    home = rempart_env / "home"
    settings = load_settings()
    db = Database(settings.db_url)
    from rempart.store import repository
    from rempart.store.models import Case, CaseEvent

    with db.session() as s:  # a case to withdraw (its own ledger entry)
        case = repository.get_or_create_case(s, "C-5")
        s.add(CaseEvent(case_id=case.id, actor="t", from_status=None, to_status="open"))
    from rempart.cases import withdrawal

    withdrawal.withdraw_case(BankIndex(db, home), home, "C-5")
    ledger = home / "withdrawals.ledger"
    lines = ledger.read_text().splitlines(keepends=True)
    assert len(lines) == 2  # header and one withdrawal
    # changed: a digest replaced
    ledger.write_text(lines[0] + lines[1].replace('"case":"', '"case":"0', 1))
    with pytest.raises(withdrawal_ledger.LedgerError, match="changed"):
        withdrawal_ledger.enforce(BankIndex(db, home), home, reason="serve")
    home2 = tmp_path / "home2"
    env2 = {
        "REMPART_HOME": str(home2),
        "REMPART_DB": f"sqlite:///{home2 / 'rempart.db'}",
        "REMPART_LEDGER": str(ledger),
    }
    assert "withdrawals.ledger: line 2 was changed" in run("restore", str(made), code=1, env=env2)
    assert listing(home2) == {}
    # truncated: the database has seen one withdrawal, the ledger holds none
    ledger.write_text(lines[0])
    with pytest.raises(withdrawal_ledger.LedgerError, match="truncated or replaced"):
        withdrawal_ledger.enforce(BankIndex(db, home), home, reason="serve")
    # missing altogether
    ledger.unlink()
    with pytest.raises(withdrawal_ledger.LedgerError, match="no withdrawal ledger"):
        withdrawal_ledger.enforce(BankIndex(db, home), home, reason="serve")
    ledger.write_text("".join(lines))
    assert not withdrawal_ledger.enforce(BankIndex(db, home), home, reason="serve").changed
    with db.session() as s:
        assert s.query(Case).filter_by(number="C-5").one().status == "withdrawn"
    db.dispose()

    # a backup made after the withdrawal, restored where its ledger is not: refused, unless
    # the operator says the ledger is lost for good (audited)
    after = tmp_path / "after.bak"
    ops_backup.backup(settings, after, PASSPHRASE, scrypt_n=FAST)
    home4 = tmp_path / "home4"
    env4 = {
        "REMPART_HOME": str(home4),
        "REMPART_DB": f"sqlite:///{home4 / 'rempart.db'}",
        "REMPART_LEDGER": str(tmp_path / "elsewhere" / "withdrawals.ledger"),
    }
    out = run("restore", str(after), code=1, env=env4)
    assert "had ledgered 1 withdrawal(s)" in out and "is missing" in out and "--ledger-lost" in out
    assert listing(home4) == {} and not (tmp_path / "elsewhere").exists()
    run("restore", str(after), "--ledger-lost", code=0, env=env4)
    actions = run("audit", "list", "--format", "json", code=0, env=env4)
    assert "withdrawal-ledger-lost" in actions
    run("audit", "verify", code=0, env=env4)


def test_a_backup_taken_while_writes_go_on_is_consistent(
    made: Path, rempart_env: Path, tmp_path: Path
) -> None:
    """Another connection appends audit entries all through the backup (as a serving
    worker would): the backup finishes, and the restored copy's chain verifies."""
    import threading

    from rempart.store import audit

    settings = load_settings()
    db = Database(settings.db_url)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        while not stop.is_set():
            with db.session() as s:
                audit.record(s, "busy", details={"n": written[0]})
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        out = tmp_path / "busy.bak"
        ops_backup.backup(settings, out, PASSPHRASE, scrypt_n=FAST)
    finally:
        stop.set()
        thread.join()
        db.dispose()
    assert written[0] > 0
    home2 = tmp_path / "home2"
    settings2 = load_settings(db=f"sqlite:///{home2 / 'rempart.db'}", home=home2)
    result = ops_backup.restore(settings2, out, PASSPHRASE)
    assert result.audit_ok, result.audit_problems
    assert 0 < result.audit_entries <= 1 + written[0] + result.manifest.audit_count
