"""A partner list is imported in one transaction (issue 19, M7): an import killed midway
leaves the banks as they were and a second run imports the list once; lookups from another
connection answer from the banks as they were while the import runs (its index of hashes by
value dropped and built again inside the transaction); and the streamed import stores the
same entries and counts as the in-memory import of the same list, which goes through
`import_submission` a change at a time."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from rempart.exchange import hashlist
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.hashlist import ImportProgress, import_list, import_list_file
from rempart.exchange.lists import read_list
from rempart.scan.matcher import Matcher, lookup_hex
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import AuditEntry, BankItem, Case, Consent, ItemSignal, Submission

ROOT = Path(__file__).resolve().parents[2]
CONSENT = ConsentRecord.parse(
    {"given_by": "Partner", "given_at": "2026-12-01", "purpose": "find and remove copies"},
    "consent",
)


def _hex(rng: random.Random, n: int = 64) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _stopncii(path: Path, records: list[tuple[str, str, str]]) -> None:
    """(signalType, hashValue, hashStatus) records, one per line as partners send them."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write(f'{{"count": {len(records)}, "hashRecords": [\n')
        for i, (kind, value, status) in enumerate(records):
            record = {
                "lastModtimestamp": 1_700_000_000 + i,
                "signalType": kind,
                "hashValue": value,
                "hashStatus": status,
                "caseNumbers": {f"SN-{i}": status},
                "CSPFeedbacks": [],
            }
            fh.write(json.dumps(record) + (",\n" if i < len(records) - 1 else "\n"))
        fh.write("]}\n")


def _store(tmp_path: Path, name: str = "r") -> tuple[Database, BankIndex]:
    db = Database(f"sqlite:///{tmp_path / f'{name}.db'}")
    with db.session() as s:
        repository.create_bank(s, "partner")
    return db, BankIndex(db, tmp_path / f"{name}-home")


def _snapshot(db: Database) -> dict[str, Any]:
    """What a bank holds (entries, hashes, submissions, cases, consents, audit entries)."""
    with db.session() as s:
        return {
            "items": s.scalar(select(func.count(BankItem.id))),
            "signals": sorted(
                (str(k), str(v))
                for k, v in s.execute(select(ItemSignal.signal_type, ItemSignal.value))
            ),
            "submissions": s.scalar(select(func.count(Submission.id))),
            "cases": sorted(s.scalars(select(Case.number))),
            "consents": s.scalar(select(func.count(Consent.id))),
            "audit": sorted(s.scalars(select(AuditEntry.action))),
        }


def _value_index(db: Database) -> bool:
    with db.engine.connect() as c:
        return bool(
            c.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?",
                (hashlist.VALUE_INDEX,),
            ).scalar()
        )


KILLED_IMPORT = """
import sys, time
from pathlib import Path
from rempart.exchange import hashlist
from rempart.exchange.consent import ConsentRecord
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database

hashlist.REBUILD_INDEX_AFTER = 300  # the value index is dropped after 300 hashes
db = Database(sys.argv[1])
marker = Path(sys.argv[3])
consent = ConsentRecord.parse(
    {"given_by": "Partner", "given_at": "2026-12-01", "purpose": "x"}, "consent"
)

def progress(p):
    if p.added >= 1000:  # several batches stored, the value index dropped: killed here
        marker.write_text(str(p.added))
        time.sleep(60)

hashlist.import_list_file(
    BankIndex(db, Path(sys.argv[2])), "partner", Path(sys.argv[4]),
    case_number="partner-killed", consent=consent, batch=250, progress=progress,
)
"""


def test_an_import_killed_midway_leaves_the_banks_as_they_were(tmp_path: Path) -> None:
    db, bank_index = _store(tmp_path)
    rng = random.Random(3)
    before_list = tmp_path / "before.json"
    earlier = [("ImagePDQ", _hex(rng), "Active") for _ in range(40)]
    _stopncii(before_list, earlier)
    import_list_file(bank_index, "partner", before_list, case_number="partner-a", consent=CONSENT)
    before = _snapshot(db)
    records = [("ImagePDQ", _hex(rng), "Active") for _ in range(2400)]
    records += [("VideoMD5", _hex(rng, 32), "Active") for _ in range(100)]
    records += [("ImagePDQ", "not-a-hash", "Active"), records[5]]  # bad, duplicate
    path = tmp_path / "big.json"
    _stopncii(path, records)
    marker = tmp_path / "killed-at"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_IMPORT,
            db.url,
            str(tmp_path / "r-home"),
            str(marker),
            str(path),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the import never got midway"
            time.sleep(0.05)
        assert int(marker.read_text()) >= 1000
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # nothing of the killed import: no entry, hash, submission, case, consent or audit
    # entry; the value index (dropped inside its transaction) is there again
    assert _snapshot(db) == before
    assert _value_index(db)
    fresh = BankIndex(db, tmp_path / "r-home")  # the index files still match the database
    assert len(fresh.load()) == 40
    # run again: the whole list once, and found
    parsed, result = import_list_file(
        fresh, "partner", path, case_number="partner-killed", consent=CONSENT, batch=250
    )
    assert (result.added, result.duplicates, parsed.problem_count) == (2500, 0, 2)
    after = _snapshot(db)
    assert after["items"] == 2540 and len(after["signals"]) == 2540
    assert len(set(after["signals"])) == 2540  # no hash twice
    matcher = Matcher(db, fresh.load())
    for _, value, _ in (records[0], records[2450], earlier[0]):
        assert [h.distance for h in lookup_hex(matcher, value)] == [0], value
    assert len(BankIndex(db, tmp_path / "r-home").load()) == 2440  # PDQ: 40 + 2400


def test_lookups_answer_during_an_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the import's transaction is open (its value index dropped), another
    connection and another index holder find what was there before, by MD5, SHA-256-long
    PDQ and near PDQ, at once (no lock waited for), and nothing of the import yet; they
    find the import's hashes once it is committed."""
    monkeypatch.setattr(hashlist, "REBUILD_INDEX_AFTER", 100)
    bulks: list[Any] = []

    class Watched(hashlist._BulkWrites):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            bulks.append(self)

    monkeypatch.setattr(hashlist, "_BulkWrites", Watched)
    db, bank_index = _store(tmp_path)
    rng = random.Random(5)
    old_pdq, old_md5 = _hex(rng), _hex(rng, 32)
    first = tmp_path / "first.json"
    _stopncii(first, [("ImagePDQ", old_pdq, "Active"), ("VideoMD5", old_md5, "Active")])
    import_list_file(bank_index, "partner", first, case_number="partner-a", consent=CONSENT)
    new = [("ImagePDQ", _hex(rng), "Active") for _ in range(600)]
    new += [("VideoMD5", _hex(rng, 32), "Active") for _ in range(50)]
    path = tmp_path / "list.json"
    _stopncii(path, new)
    # another process's view: its own engine (connections) and index holder
    reader = Database(db.url)
    reader_index = BankIndex(reader, tmp_path / "r-home")
    reader_index.load()
    near = bytearray.fromhex(old_pdq)
    near[0] ^= 0x07  # 3 bits off
    checks: list[float] = []

    def progress(p: ImportProgress) -> None:
        if not 300 <= p.added < 650:  # (650: the last batch, or the import's end)
            return
        assert bulks[-1].index_sql is not None  # dropped inside the import's transaction
        start = time.perf_counter()
        reader_index.refresh()  # nothing committed: nothing to reload
        matcher = Matcher(reader, reader_index.load())
        assert [h.signal for h in lookup_hex(matcher, old_md5)] == ["md5"]
        assert [h.distance for h in lookup_hex(matcher, old_pdq)] == [0]
        assert [h.distance for h in lookup_hex(matcher, near.hex())] == [3]
        assert lookup_hex(matcher, new[0][1]) == [] and lookup_hex(matcher, new[-1][1]) == []
        assert _value_index(reader)  # but the readers' snapshot still has it, and uses it
        with reader.engine.connect() as c:
            plan = c.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM item_signals "
                "WHERE signal_type = 'md5' AND value = ?",
                (old_md5,),
            ).all()
            assert any(hashlist.VALUE_INDEX in str(row) for row in plan), plan
        checks.append(time.perf_counter() - start)

    _, result = import_list_file(
        bank_index,
        "partner",
        path,
        case_number="partner-b",
        consent=CONSENT,
        batch=100,
        progress=progress,
    )
    assert result.added == 650 and len(checks) >= 2
    assert max(checks) < 5  # answered at once, not after the import (no lock waited for)
    assert _value_index(db)
    assert reader_index.refresh()  # committed: the other holder reloads the index
    matcher = Matcher(reader, reader_index.load())
    for _, value, _ in (new[0], new[599], new[-1]):
        assert [h.distance for h in lookup_hex(matcher, value)] == [0], value
    assert [h.distance for h in lookup_hex(matcher, old_pdq)] == [0]
    reader.dispose()


def _mixed_list(path: Path, rng: random.Random, shared: list[str]) -> None:
    """A Rempart list with labels, exact hashes, videos, duplicates, withdrawals of its own
    and of earlier hashes, and bad rows."""
    items: list[Any] = []
    for i in range(70):
        item: dict[str, Any] = {"media_type": "image", "pdq": _hex(rng), "pdq_quality": 90}
        if i % 3 == 0:
            item["md5"] = _hex(rng, 32)
            item["sha256"] = _hex(rng)
        if i % 4 == 0:
            item["label"] = f"label-{i % 8}"
        if i % 10 == 9:
            item["pdq_quality"] = 20  # too little detail: stored, not indexed
        items.append(item)
    items += [{"media_type": "image", "pdq": v} for v in shared]  # in both lists
    items.append({"media_type": "video", "md5": _hex(rng, 32)})
    items.append(dict(items[4]))  # a duplicate
    items.append({"media_type": "image", "pdq": "zz" * 32})  # bad hex
    items.append({"media_type": "image", "pdq": _hex(rng), "label": 7})  # bad label
    items.append("not an object")
    withdrawn = [items[10]["pdq"], shared[0]]  # one of its own, one of the earlier list's
    path.write_text(
        json.dumps(
            {
                "format": "rempart-hash-list",
                "version": 1,
                "items": items,
                "withdrawn": [
                    {
                        "signal_type": "pdq",
                        "value_sha256": hashlib.sha256(v.encode()).hexdigest(),
                        "withdrawn_at": "2026-12-01T00:00:00+00:00",
                    }
                    for v in withdrawn
                ],
            }
        )
    )


def _entries(db: Database) -> list[tuple[Any, ...]]:
    with db.session() as s:
        rows = s.execute(
            select(
                Case.number,
                BankItem.label,
                BankItem.media_type,
                ItemSignal.signal_type,
                ItemSignal.value,
                ItemSignal.quality,
            )
            .join(BankItem, ItemSignal.item_id == BankItem.id)
            .join(Case, BankItem.case_id == Case.id)
        ).all()
    return sorted((tuple(r) for r in rows), key=repr)


@pytest.mark.both_databases
def test_the_streamed_import_stores_what_the_in_memory_import_stores(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two lists (the second into the same case: its duplicates looked up per batch, the
    value index kept) imported streamed in small batches, the first with the value index
    dropped midway, and imported whole through `import_list`: the same results, problems,
    entries, hashes, labels and index."""
    monkeypatch.setattr(hashlist, "REBUILD_INDEX_AFTER", 20)
    rng = random.Random(8)
    shared = [_hex(rng) for _ in range(5)]
    lists = [tmp_path / "one.json", tmp_path / "two.json"]
    for path in lists:
        _mixed_list(path, rng, shared)
    other = Database(f"sqlite:///{tmp_path / 'whole.db'}")
    with other.session() as s:
        repository.create_bank(s, "partner")
    whole_index = BankIndex(other, tmp_path / "whole-home")
    streamed_db = Database(db_url)
    with streamed_db.session() as s:
        repository.create_bank(s, "partner")
    streamed_index = BankIndex(streamed_db, tmp_path / "streamed-home")
    for n, path in enumerate(lists):
        consent = CONSENT if n == 0 else None
        parsed, streamed = import_list_file(
            streamed_index, "partner", path, case_number="partner-m", consent=consent, batch=16
        )
        whole_list = read_list(path)
        whole = import_list(
            whole_index, "partner", whole_list, case_number="partner-m", consent=consent
        )
        assert streamed == whole
        assert parsed.problems == whole_list.problems and parsed.problem_count == 4
        assert _entries(streamed_db) == _entries(other)
    assert streamed.duplicates == 4 and streamed.withdrawn >= 1  # the shared hashes
    assert len(streamed_index.load()) == len(whole_index.load()) > 100
    assert len(BankIndex(streamed_db, tmp_path / "streamed-home").load()) == len(whole_index.load())
    streamed_db.dispose()
    other.dispose()
