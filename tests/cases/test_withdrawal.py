"""Withdrawal of single hashes and templates: gone from bank, index and files; a one-way
withdrawal record remains for partners."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from rempart.exchange.submission import read_submission
from tests.cases.test_review import rempart, scanned_case
from tests.postgres import database_bytes

pytestmark = pytest.mark.both_databases


def files_bytes(home: Path) -> bytes:
    """The bytes of the database (SQLite file or PostgreSQL table files) and of every other
    file under the test's folder (the index)."""
    out = database_bytes(os.environ["REMPART_DB"])
    for path in list(home.rglob("*")):
        if path.is_file() and path.suffix != ".json":
            out += path.read_bytes()
    return out


def test_one_hash_withdrawn_the_other_kept(rempart_env: Path, consent_file: Path) -> None:
    scanned_case(rempart_env, consent_file)  # two photos banked under C-9, two copies found
    view = json.loads(rempart("case", "show", "C-9", "--format", "json"))
    first, second = view["bank_entries"]
    sub = read_submission(rempart_env / "s.json")
    rempart("case", "withdraw", "C-9", "--item", str(first))
    view = json.loads(rempart("case", "show", "C-9", "--format", "json"))
    assert view["bank_entries"] == [second] and view["status"] != "withdrawn"
    # exactly one of her two hashes is still somewhere in the database and index files
    blob = files_bytes(rempart_env)
    pdqs = [item.pdq for item in sub.items if item.pdq]
    present = [p for p in pdqs if bytes.fromhex(p) in blob or p.encode() in blob]
    assert len(present) == 1
    records = json.loads(rempart("case", "withdrawals"))["items"]
    gone = next(i for i in sub.items if i.pdq not in present)
    digests = {r["value_sha256"] for r in records}
    assert hashlib.sha256(gone.pdq.encode()).hexdigest() in digests  # type: ignore[union-attr]
    assert hashlib.sha256(gone.sha256.encode()).hexdigest() in digests
    assert len(records) == 3  # pdq, md5, sha256 of the withdrawn photo
    # only the copy of the kept photo still matches
    rempart(
        "scan", str(rempart_env / "found"), "--bank", "b", "--report", str(rempart_env / "r.json")
    )
    assert len(json.loads((rempart_env / "r.json").read_text())["matches"]) == 1
    rempart("case", "withdraw", "C-9", "--item", "999", code=1)
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert "withdraw-items" in actions
