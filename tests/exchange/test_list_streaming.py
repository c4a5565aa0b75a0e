"""Partner lists imported as they are read (issue 19, M7: a 1 M-hash list took 18.5 min and
2.2 GB read whole): batches stored as they are read (in one transaction:
tests/exchange/test_list_import_atomic.py), consent checked before anything is stored, the
list's duplicates dropped across batches, withdrawals applied after the additions,
everything indexed at the end; hostile nesting refused at once; and the benchmark at a
tiny size."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rempart.exchange import json_stream
from rempart.exchange.consent import ConsentRecord, FormatError
from rempart.exchange.hashlist import ImportProgress, import_list_file
from rempart.exchange.lists import read_list
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import AuditEntry, BankItem, Case, Submission
from rempart.store.repository import StoreError

BENCH = Path(__file__).resolve().parents[2] / "bench" / "list_import_bench.py"
CONSENT = ConsentRecord.parse(
    {"given_by": "Partner", "given_at": "2026-12-01", "purpose": "find and remove copies"},
    "consent",
)


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _stopncii(path: Path, values: list[tuple[str, str]]) -> None:
    path.write_text(
        json.dumps(
            {
                "count": len(values),
                "hashRecords": [
                    {
                        "lastModtimestamp": 1,
                        "signalType": "ImagePDQ",
                        "hashValue": v,
                        "hashStatus": s,
                        "caseNumbers": {},
                        "CSPFeedbacks": [],
                    }
                    for v, s in values
                ],
            },
            indent=1,
        )
    )


@pytest.fixture
def store(tmp_path: Path) -> tuple[Database, BankIndex]:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    with db.session() as s:
        repository.create_bank(s, "partner")
    return db, BankIndex(db, tmp_path / "home")


def test_a_list_is_imported_in_batches(tmp_path: Path, store: tuple[Database, BankIndex]) -> None:
    db, bank_index = store
    rng = random.Random(1)
    values = [_hex(rng) for _ in range(25)]
    records = [(v, "Active") for v in values]
    records.insert(10, (values[2], "Active"))  # a duplicate, in a later batch
    records.append((values[20], "Withdrawn"))  # withdraws a hash an earlier batch added
    records.append(("nothex", "Active"))
    path = tmp_path / "list.json"
    _stopncii(path, records)
    seen: list[ImportProgress] = []
    parsed, result = import_list_file(
        bank_index,
        "partner",
        path,
        case_number="partner-x",
        consent=CONSENT,
        batch=4,
        progress=seen.append,
    )
    assert result.added == 25 and result.withdrawn == 1 and result.consent_recorded
    assert parsed.problem_count == 3  # the duplicate, the withdrawal of an added hash, nothex
    assert len(seen) >= 7 and seen[-1].bytes_read == seen[-1].total_bytes
    assert [p.added for p in seen] == sorted(p.added for p in seen)
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.number == "partner-x"))
        assert s.scalar(select(func.count(BankItem.id)).where(BankItem.case_id == case.id)) == 24
        assert s.scalar(select(func.count(Submission.id))) >= 7  # one per batch
        assert (
            s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "bank-import"))
            >= 7
        )
    # every stored hash is in the index (in memory, and on disk for the next process)
    for index in (bank_index.load(), BankIndex(db, tmp_path / "home").load()):
        assert len(index) == 24
    # imported again: all already there (the case has entries: looked up per batch); the
    # hash the list withdraws is added by its batch and deleted again after the additions
    _, again = import_list_file(bank_index, "partner", path, case_number="partner-x", batch=4)
    assert again.duplicates == 24 and again.added == again.withdrawn == 1
    assert len(bank_index.load()) == 24


def test_no_consent_stores_nothing(tmp_path: Path, store: tuple[Database, BankIndex]) -> None:
    db, bank_index = store
    path = tmp_path / "list.json"
    _stopncii(path, [(_hex(random.Random(i)), "Active") for i in range(10)])
    with pytest.raises(StoreError, match="consent"):
        import_list_file(bank_index, "partner", path, case_number="partner-y", batch=3)
    with db.session() as s:
        assert s.scalar(select(func.count(BankItem.id))) == 0
        assert s.scalar(select(Case).where(Case.number == "partner-y")) is None


def test_a_malformed_file_is_refused_before_any_batch(
    tmp_path: Path, store: tuple[Database, BankIndex]
) -> None:
    db, bank_index = store
    path = tmp_path / "list.json"
    _stopncii(path, [(_hex(random.Random(i)), "Active") for i in range(10)])
    path.write_text(path.read_text()[:-40])  # cut off: malformed at its end
    with pytest.raises(FormatError, match="malformed JSON"):
        import_list_file(
            bank_index, "partner", path, case_number="partner-z", consent=CONSENT, batch=3
        )
    with db.session() as s:
        assert s.scalar(select(func.count(BankItem.id))) == 0


def test_deep_nesting_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"hashRecords": [' + b"[" * 2_000_000 + b"]" * 2_000_000 + b"]}")
    start = time.monotonic()
    with pytest.raises(FormatError, match="nested too deeply"):
        read_list(path, "stopncii")
    assert time.monotonic() - start < 5
    # brackets inside strings (and escaped quotes) do not count
    text = tmp_path / "strings.json"
    text.write_text(json.dumps([{"hashValue": '[[[[\\"' * 50, "signalType": "ImagePDQ"}]))
    assert json_stream.shape(text).top == "array"
    json_stream.check_syntax(text)


def test_list_import_bench_small(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--hashes", "3000", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["hashes"] == 3000 and result["lookup_found"] and result["peak_rss_mb"] > 0
    assert "Imported 3000 hash(es)" in result["summary"], result["summary"]


@pytest.mark.parametrize("case", ["../../etc", "a/b", ".x", "CASE 7"])
def test_the_cli_refuses_a_case_number_outside_the_pattern(
    rempart_env: Path, consent_file: Path, case: str
) -> None:
    from typer.testing import CliRunner

    from rempart.cli import app

    path = rempart_env / "list.json"
    _stopncii(path, [(_hex(random.Random(5)), "Active")])
    runner = CliRunner()
    env = {"COLUMNS": "300"}
    assert runner.invoke(app, ["bank", "create", "partner"], env=env).exit_code == 0
    for args in (
        [
            "bank",
            "import-list",
            "partner",
            str(path),
            "--case",
            case,
            "--consent",
            str(consent_file),
        ],
        ["case", "open", case],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert "invalid case number" in " ".join(result.output.split()), result.output


@pytest.mark.both_databases
def test_bulk_rows_are_stored_as_the_orm_stores_them(tmp_path: Path, db_url: str) -> None:
    """The import's bulk inserts (entries, hashes, change feed) read back as the ORM's rows:
    dates as datetimes (on SQLite, in SQLAlchemy's text form: sqlite3's own adapter wrote
    '...+00:00', which compares wrongly as text), every entry in the change feed once, in
    order, and the SQLite page cache back to its default once the import is over."""
    from rempart.store.changefeed import ADDED, BankChange

    db = Database(db_url)
    with db.session() as s:
        repository.create_bank(s, "partner")
    bank_index = BankIndex(db, tmp_path / "home")
    rng = random.Random(11)
    path = tmp_path / "list.json"
    _stopncii(
        path,
        [(_hex(rng), "Active") for _ in range(30)]
        + [("nothex", "Active"), (_hex(rng), "Withdrawn")],
    )
    parsed, result = import_list_file(
        bank_index, "partner", path, case_number="partner-z", consent=CONSENT, batch=7
    )
    assert result.added == 30 and parsed.problem_count == 1
    with db.session() as s:
        items = s.execute(select(BankItem.id, BankItem.created_at).order_by(BankItem.id)).all()
        feed = s.execute(
            select(BankChange.item_id, BankChange.at, BankChange.kind).order_by(BankChange.seq)
        ).all()
        assert [i for i, _ in items] == [i for i, _, _ in feed]
        assert {k for _, _, k in feed} == {ADDED}
        assert all(isinstance(at, datetime) for _, at, _ in feed)
        assert all(isinstance(c, datetime) for _, c in items)
        if db.backend == "sqlite":
            text_form = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$"
            for column, table in (("created_at", "bank_items"), ("at", "bank_changes")):
                stored = (
                    s.connection()
                    .exec_driver_sql(f"SELECT DISTINCT {column} FROM {table}")
                    .scalars()
                    .all()
                )
                assert stored and all(re.match(text_form, v) for v in stored), stored
            assert s.connection().exec_driver_sql("PRAGMA cache_size").scalar() == -2000
    assert len(bank_index.load()) == 30


def test_a_record_with_unhashable_statuses_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    good = _hex(random.Random(3))
    path.write_text(
        json.dumps(
            {
                "hashRecords": [
                    {
                        "signalType": "ImagePDQ",
                        "hashValue": good,
                        "hashStatus": "Active",
                        "caseNumbers": {"SN-1": ["Active"]},
                    },
                    {
                        "signalType": "ImagePDQ",
                        "hashValue": good[::-1],
                        "hashStatus": "Active",
                        "caseNumbers": {"SN-2": "Active"},
                        "CSPFeedbacks": [],
                    },
                ]
            }
        )
    )
    parsed = read_list(path)
    assert [i.pdq for i in parsed.items] == [good[::-1]]
    assert parsed.problems == [f"{path}: record 1: 'caseNumbers' must map case numbers to statuses"]
