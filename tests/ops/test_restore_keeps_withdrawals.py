"""Back up, withdraw a case, restore the older backup: what she withdrew is gone again from
the database files (raw bytes, write-ahead log too), the index and the template store, the
audit log records the re-application, and its chain verifies. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.exchange.submission import read_submission
from rempart.samples import photo_like
from rempart.store import face_templates
from rempart.store.db import Database
from tests.postgres import PostgresServer, database_bytes

pytestmark = pytest.mark.both_databases
runner = CliRunner()
PASSPHRASE = "a long and private passphrase"


def rempart(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", **(env or {})})
    assert result.exit_code == code, result.output
    return result.stdout


def _photos(folder: Path, seeds: tuple[int, ...]) -> None:
    folder.mkdir()
    for s in seeds:
        photo_like(s, (160, 120)).save(folder / f"{s}.jpg", quality=90)


@pytest.fixture
def second_db(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The empty database a restore goes into (PostgreSQL: migrated but empty, as a database
    that `rempart` opened once is)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'home2' / 'rempart.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.database() as url:
        yield url


def test_restore_of_an_older_backup_reapplies_withdrawals(
    rempart_env: Path, consent_file: Path, second_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = rempart_env
    home = tmp / "home"
    monkeypatch.setenv("REMPART_BACKUP_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("REMPART_LEDGER", str(tmp / "ledger" / "withdrawals.ledger"))
    _photos(tmp / "hers", (1, 2))
    _photos(tmp / "other", (3,))
    rempart("hash", str(tmp / "hers"), "--out", str(tmp / "hers.json"))
    rempart("hash", str(tmp / "other"), "--out", str(tmp / "other.json"))
    rempart("bank", "create", "b")
    for case, sub in (("C-1", "hers.json"), ("C-2", "other.json")):
        rempart(
            "bank", "import", "b", str(tmp / sub), "--case", case, "--consent", str(consent_file)
        )
    db = Database(os.environ["REMPART_DB"])
    rng = np.random.default_rng(7)
    vectors = [rng.normal(size=128).astype(np.float32) for _ in range(2)]
    face_templates.enroll(
        db, home, "C-1", [face_templates.NewTemplate(v, "selfie.jpg", 90) for v in vectors], None
    )
    with db.session() as s:  # her templates as stored: reference and ciphertext
        from sqlalchemy import select

        from rempart.store.models import FaceTemplate

        stored = [(t.ref, bytes(t.ciphertext)) for t in s.scalars(select(FaceTemplate))]
    db.dispose()
    assert len(stored) == 2

    from tests.signals.synthetic.c2pa_signing import make_chain

    (tmp / "ca.pem").write_text(make_chain().ca_pem, encoding="ascii")
    rempart("c2pa-trust", "add", str(tmp / "ca.pem"), "--name", "Ours")  # REMPART_HOME state
    made = json.loads(rempart("backup", "--out", str(tmp / "week.bak"), "--json"))
    assert made["audit_entries"] >= 3 and made["backend"] in ("sqlite", "postgresql")
    rempart("case", "withdraw", "C-1", "--yes")
    ledger_text = (tmp / "ledger" / "withdrawals.ledger").read_text()
    hers = [i for i in read_submission(tmp / "hers.json").items]
    theirs = read_submission(tmp / "other.json").items[0]
    for item in hers:  # the ledger holds digests, never her hashes
        for value in (item.pdq, item.md5, item.sha256):
            assert value and value not in ledger_text
    for ref, _ in stored:
        assert ref not in ledger_text

    home2 = tmp / "home2"
    env2 = {"REMPART_HOME": str(home2), "REMPART_DB": second_db}
    restored = json.loads(rempart("restore", str(tmp / "week.bak"), "--json", env=env2))
    again = restored["withdrawals_reapplied"]
    assert (again["bank_entries"], again["face_templates"], again["cases"]) == (2, 2, 1)
    assert restored["audit"]["ok"], restored["audit"]

    # gone from the database files (SQLite: the file and its -wal; PostgreSQL: the tables)
    blob = database_bytes(second_db)
    for item in hers:
        for value in (item.pdq, item.md5, item.sha256):
            assert value is not None and value.encode() not in blob
    for ref, ciphertext in stored:
        assert ref.encode() not in blob and ciphertext not in blob
    assert theirs.pdq is not None and theirs.pdq.encode() in blob  # another case: kept
    # ... from the index, rebuilt from the restored database
    index_bytes = b"".join(p.read_bytes() for p in home2.rglob("*") if p.is_file())
    for item in hers:
        assert item.pdq is not None and bytes.fromhex(item.pdq) not in index_bytes
    assert theirs.pdq is not None and bytes.fromhex(theirs.pdq) in index_bytes
    # ... and from the template store
    db2 = Database(second_db)
    assert face_templates.load(db2, home2).ids == []
    db2.dispose()

    view = json.loads(rempart("case", "show", "C-1", "--format", "json", env=env2))
    assert view["status"] == "withdrawn" and view["bank_entries"] == []
    entries = json.loads(rempart("audit", "list", "--format", "json", env=env2))
    reapplied = [e for e in entries if e["action"] == "withdrawal-reapplied"]
    assert len(reapplied) == 1 and reapplied[0]["details"]["reason"] == "restore"
    assert reapplied[0]["details"]["bank_entries"] == 2
    lists = json.loads(rempart("c2pa-trust", "list", "--json", env=env2))
    assert [(t["name"], t["digest_ok"]) for t in lists][-1] == ("Ours", True)
    result = runner.invoke(app, ["audit", "verify"], env=env2)
    assert result.exit_code == 0, result.output
    # a second look (as `rempart serve` takes at start) finds nothing more to do
    from rempart.store import withdrawal_ledger
    from rempart.store.bank_index import BankIndex

    db2 = Database(second_db)
    try:
        assert not withdrawal_ledger.enforce(BankIndex(db2, home2), home2, reason="serve").changed
    finally:
        db2.dispose()
