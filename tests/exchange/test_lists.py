"""Hash lists through the real CLI, on SQLite and PostgreSQL: round trips per format,
consent on import and export, withdrawals that remove a hash everywhere."""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from tests.postgres import database_bytes
from tests.worlds import Worlds, worlds_fixture

pytestmark = pytest.mark.both_databases
runner = CliRunner()
FORMATS = ("rempart", "stopncii", "hma", "csv")


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", "REMPART_USER": "cw"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def rand_hex(rng: random.Random, bits: int) -> str:
    return format(rng.getrandbits(bits), f"0{bits // 4}x")


def photo(rng: random.Random) -> dict[str, Any]:
    return {
        "media_type": "image",
        "pdq": rand_hex(rng, 256),
        "pdq_quality": 100,
        "md5": rand_hex(rng, 128),
        "sha256": rand_hex(rng, 256),
        "width": 640,
        "height": 480,
    }


def video(rng: random.Random) -> dict[str, Any]:
    frames = [f"{rand_hex(rng, 256)},100,{t:.3f}" for t in (0.0, 1.0, 2.0)]
    return {
        "media_type": "video",
        "pdq": None,
        "pdq_quality": None,
        "md5": rand_hex(rng, 128),
        "sha256": rand_hex(rng, 256),
        "width": 320,
        "height": 240,
        "duration": 3.0,
        "seconds_per_frame": 1.0,
        "vpdq": frames,
        "vpdq_regions": {"top": [f"{rand_hex(rng, 256)},100,0.000"]},
    }


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def consent(path: Path, *, exchange: bool, by: str = "Test Person") -> Path:
    return write_json(
        path,
        {
            "given_by": by,
            "given_at": "2026-11-01",
            "purpose": "find and remove copies",
            "allow_exchange": exchange,
        },
    )


def submission(path: Path, items: list[dict[str, Any]]) -> Path:
    return write_json(path, {"format": "rempart-hash-submission", "version": 1, "items": items})


def hits(value: str, bank: str | None = None) -> list[dict[str, Any]]:
    args = ["match", value, "--format", "json"] + (["--bank", bank] if bank else [])
    return json.loads(rempart(*args))


def _bank_two_cases(rempart_env: Path, _consent: Path) -> dict[str, Any]:
    """Bank `src`: case C-1 (consent to exchange: two photos, one video) and case C-2
    (no consent to exchange: one photo). Bank `dst` is empty."""
    rng = random.Random(7)
    shared = [photo(rng), photo(rng), video(rng)]
    private = [photo(rng)]
    rempart("bank", "create", "src")
    rempart("bank", "create", "dst")
    rempart(
        "bank",
        "import",
        "src",
        str(submission(rempart_env / "s1.json", shared)),
        "--case",
        "C-1",
        "--consent",
        str(consent(rempart_env / "c1.json", exchange=True)),
    )
    rempart(
        "bank",
        "import",
        "src",
        str(submission(rempart_env / "s2.json", private)),
        "--case",
        "C-2",
        "--consent",
        str(consent(rempart_env / "c2.json", exchange=False)),
    )
    partner = consent(
        rempart_env / "partner.json",
        exchange=False,
        by="Partner helpline (consent held by the partner)",
    )
    return {"shared": shared, "private": private, "partner": partner}


# The banks are made once per backend (the same commands); each test gets its own copy of
# the folder and database (tests/worlds.py).
banked_worlds = worlds_fixture(_bank_two_cases)


@pytest.fixture
def banked(
    banked_worlds: Worlds, db_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """`_bank_two_cases`' banks: its answer, and "home", the folder (as rempart_env)."""
    for restored in banked_worlds.restore(db_backend, request, tmp_path):
        yield {**restored.value, "home": restored.path}


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_exports_only_what_consent_allows(banked: dict[str, Any], fmt: str) -> None:
    home: Path = banked["home"]
    out = home / f"list.{fmt}"
    said = rempart("bank", "export", "src", "--format", fmt, "--out", str(out))
    assert "1 entr(y/ies) withheld" in said
    text = out.read_text()
    private = banked["private"][0]
    for key in ("pdq", "md5", "sha256"):
        assert private[key] not in text  # no consent to exchange: never leaves
    photo1, photo2, vid = banked["shared"]
    assert photo1["pdq"] in text and photo2["pdq"] in text
    assert "given_by" not in text and "Test Person" not in text  # her name stays here
    assert "C-1" not in text and "C-2" not in text  # case numbers too
    said = rempart(
        "bank",
        "import-list",
        "dst",
        str(out),
        "--partner",
        "ngo",
        "--consent",
        str(banked["partner"]),
    )
    for p in (photo1, photo2):
        found = hits(p["pdq"], "dst")
        assert [(h["case"], h["distance"]) for h in found] == [("partner-ngo", 0)]
    expected_video = {"rempart": True, "stopncii": True, "hma": True, "csv": False}[fmt]
    assert bool(hits(vid["md5"], "dst")) is expected_video
    if fmt == "rempart":  # the whole item travels: exact hashes and video frames
        assert hits(photo1["sha256"], "dst") and hits(vid["sha256"], "dst")
        frame = vid["vpdq"][1].split(",")[0]
        assert [h["signal"] for h in hits(frame, "dst")] == ["vpdq"]
        again = home / "again.json"
        rempart("bank", "export", "dst", "--out", str(again))  # partner-ngo had no exchange
        assert json.loads(again.read_text())["items"] == []  # consent: nothing re-shared
    # importing the same list again adds nothing
    assert "Imported 0 hash(es)" in rempart(
        "bank", "import-list", "dst", str(out), "--partner", "ngo"
    )
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert "bank-export" in actions


def test_rempart_list_is_identical_after_a_round_trip(banked: dict[str, Any]) -> None:
    home: Path = banked["home"]
    rempart("bank", "export", "src", "--out", str(home / "a.json"))
    rempart(
        "bank",
        "import-list",
        "dst",
        str(home / "a.json"),
        "--case",
        "C-3",
        "--consent",
        str(consent(home / "c3.json", exchange=True)),
    )
    rempart("bank", "export", "dst", "--out", str(home / "b.json"))
    a, b = (json.loads((home / n).read_text()) for n in ("a.json", "b.json"))
    assert a["items"] == b["items"] and len(a["items"]) == 3


def test_import_needs_a_consent_record(banked: dict[str, Any]) -> None:
    home: Path = banked["home"]
    rempart("bank", "export", "src", "--format", "csv", "--out", str(home / "l.csv"))
    said = rempart("bank", "import-list", "dst", str(home / "l.csv"), "--partner", "x", code=1)
    assert "no consent record" in said
    assert hits(banked["shared"][0]["pdq"], "dst") == []  # nothing stored
    assert "either --case" in rempart("bank", "import-list", "dst", str(home / "l.csv"), code=1)
    assert "no bank named" in rempart(
        "bank", "import-list", "nope", str(home / "l.csv"), "--case", "C-1", code=1
    )


def stopncii_doc(records: list[tuple[str, str, str, dict[str, str]]]) -> dict[str, Any]:
    return {
        "count": len(records),
        "nextPageToken": None,
        "nextSetTimestamp": 1764000000,
        "hasMoreRecords": False,
        "hashRecords": [
            {
                "lastModtimestamp": 1764000000,
                "signalType": kind,
                "hashValue": value,
                "hashStatus": status,
                "caseNumbers": cases,
                "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": [], "source": "a platform"}],
            }
            for kind, value, status, cases in records
        ],
    }


def test_stopncii_withdrawn_and_deleted_hashes_are_removed_everywhere(
    rempart_env: Path,
) -> None:
    rng = random.Random(11)
    pdq_a, pdq_b, pdq_kept = (rand_hex(rng, 256) for _ in range(3))
    vmd5 = rand_hex(rng, 128)
    rempart("bank", "create", "ncii")
    rempart("bank", "create", "other")
    partner = consent(rempart_env / "p.json", exchange=False, by="StopNCII.org")
    first = write_json(
        rempart_env / "f1.json",
        stopncii_doc(
            [
                ("ImagePDQ", pdq_a, "Active", {"SN-1": "Active"}),
                ("ImagePDQ", pdq_b, "Received", {}),
                ("ImagePDQ", pdq_kept, "Active", {"SN-3": "Active"}),
                ("VideoMD5", vmd5, "Active", {"SN-4": "Active"}),
            ]
        ),
    )
    rempart(
        "bank",
        "import-list",
        "ncii",
        str(first),
        "--partner",
        "stopncii",
        "--consent",
        str(partner),
    )
    # the same hash B also in another bank of the same partner case, and under her own case
    rempart("bank", "import-list", "other", str(first), "--partner", "stopncii")
    rempart(
        "bank",
        "import",
        "other",
        str(submission(rempart_env / "own.json", [{"pdq": pdq_b, "pdq_quality": 100}])),
        "--case",
        "HER-1",
        "--consent",
        str(consent(rempart_env / "her.json", exchange=False)),
    )
    assert len(hits(pdq_a)) == 2 and len(hits(pdq_b)) == 3 and len(hits(vmd5)) == 2
    # later records: A withdrawn, B deleted, the video's only case deleted
    update = write_json(
        rempart_env / "f2.json",
        stopncii_doc(
            [
                ("ImagePDQ", pdq_a, "Withdrawn", {"SN-1": "Withdrawn"}),
                ("ImagePDQ", pdq_b, "Deleted", {}),
                ("VideoMD5", vmd5, "Active", {"SN-4": "Deleted"}),
            ]
        ),
    )
    said = rempart("bank", "import-list", "ncii", str(update), "--partner", "stopncii")
    assert "6 withdrawn entr(y/ies) deleted" in said and "1 entr(y/ies) of other cases" in said
    assert hits(pdq_a) == [] and hits(vmd5) == []
    assert [h["case"] for h in hits(pdq_b)] == ["HER-1"]  # her own registration stays
    assert len(hits(pdq_kept)) == 2
    # a withdrawal record per withdrawn hash, and the hashes gone from database and index
    digests = {r["value_sha256"] for r in json.loads(rempart("case", "withdrawals"))["items"]}
    for value in (pdq_a, pdq_b, vmd5):
        assert hashlib.sha256(value.encode()).hexdigest() in digests
    blob = database_bytes(os.environ["REMPART_DB"])
    index = b"".join(p.read_bytes() for p in (rempart_env / "home").rglob("*") if p.is_file())
    for value in (pdq_a, vmd5):
        assert value.encode() not in blob
    assert bytes.fromhex(pdq_a) not in index
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert actions.count("list-withdraw") == 1
    # asked to, a withdrawal also removes other cases' entries
    rempart(
        "bank", "import-list", "ncii", str(update), "--partner", "stopncii", "--withdraw-everywhere"
    )
    assert hits(pdq_b) == []


def test_rempart_withdrawal_digests_reach_the_partner(banked: dict[str, Any]) -> None:
    home: Path = banked["home"]
    rempart("bank", "export", "src", "--out", str(home / "v1.json"))
    rempart(
        "bank",
        "import-list",
        "dst",
        str(home / "v1.json"),
        "--partner",
        "ngo",
        "--consent",
        str(banked["partner"]),
    )
    gone = banked["shared"][0]
    entry = hits(gone["pdq"], "src")[0]["bank_entry"]
    rempart("case", "withdraw", "C-1", "--item", str(entry))  # she withdraws one photo
    rempart("bank", "export", "src", "--out", str(home / "v2.json"))
    doc = json.loads((home / "v2.json").read_text())
    assert gone["pdq"] not in json.dumps(doc) and len(doc["withdrawn"]) == 3
    said = rempart("bank", "import-list", "dst", str(home / "v2.json"), "--partner", "ngo")
    assert "1 withdrawn entr(y/ies) deleted" in said
    assert hits(gone["pdq"]) == [] and hits(gone["sha256"]) == []
    assert len(hits(banked["shared"][1]["pdq"], "dst")) == 1


def test_a_partner_lists_withdrawal_goes_into_the_withdrawal_ledger(rempart_env: Path) -> None:
    """What a partner's list withdraws is ledgered like a case's own withdrawal, so that
    restoring an older backup cannot bring it back (issue 18): the ledger names the hash by
    its keyed digest only, and re-applying the ledger to a database that holds the hash
    again (as a restored backup would) deletes it."""
    from rempart.config import ledger_path
    from rempart.store import withdrawal_ledger
    from rempart.store.bank_index import BankIndex
    from rempart.store.db import Database

    rng = random.Random(23)
    pdq_a = rand_hex(rng, 256)
    rempart("bank", "create", "ncii")
    partner = consent(rempart_env / "p.json", exchange=False, by="StopNCII.org")
    active = stopncii_doc([("ImagePDQ", pdq_a, "Active", {"SN-1": "Active"})])
    first = write_json(rempart_env / "f1.json", active)
    rempart(
        "bank",
        "import-list",
        "ncii",
        str(first),
        "--partner",
        "stopncii",
        "--consent",
        str(partner),
    )
    [case] = {h["case"] for h in hits(pdq_a)}
    withdrawn = stopncii_doc([("ImagePDQ", pdq_a, "Withdrawn", {"SN-1": "Withdrawn"})])
    update = write_json(rempart_env / "f2.json", withdrawn)
    rempart("bank", "import-list", "ncii", str(update), "--partner", "stopncii")
    assert hits(pdq_a) == []
    home = rempart_env / "home"
    ledger = withdrawal_ledger.read(ledger_path(home))
    assert ledger is not None and ledger.entries
    text = ledger_path(home).read_text()
    assert pdq_a not in text  # digests only
    assert any(
        ledger.signal_digest(case, "pdq", pdq_a) in (e.get("signals") or []) for e in ledger.entries
    )
    # the hash back in the database (an older backup restored), then the ledger re-applied
    rempart(
        "bank",
        "import-list",
        "ncii",
        str(first),
        "--partner",
        "stopncii",
        "--consent",
        str(partner),
    )
    assert hits(pdq_a)
    db = Database(os.environ["REMPART_DB"])
    with db.session() as s:  # as an older backup holds it: registered before the withdrawal
        from datetime import datetime

        from sqlalchemy import update

        from rempart.store.models import BankItem

        s.execute(update(BankItem).values(created_at=datetime(2020, 1, 1)))
    done = withdrawal_ledger.enforce(BankIndex(db, home), home, reason="restore", force=True)
    db.dispose()
    assert done.changed and hits(pdq_a) == []
    # the partner lists it again later (re-activated): registered after the withdrawal, so
    # re-applying the ledger leaves it (it once deleted it again at every server start)
    rempart(
        "bank",
        "import-list",
        "ncii",
        str(first),
        "--partner",
        "stopncii",
        "--consent",
        str(partner),
    )
    db = Database(os.environ["REMPART_DB"])
    done = withdrawal_ledger.enforce(BankIndex(db, home), home, reason="serve", force=True)
    db.dispose()
    assert not done.changed and hits(pdq_a)
