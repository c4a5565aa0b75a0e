"""The listings `rempart bank list` and `rempart review list` read the database without
SQLAlchemy on an up-to-date SQLite file (issue 19: start-up), through the same SQL text the
API's and web UI's Database runs; their answers must stay the ORM's.

On a populated database (banks, one empty; entries under cases and without; a withdrawn
entry; tenants and bank shares; matches of every status, a possible minor, sightings;
face matches), on SQLite and on PostgreSQL:
- the listing functions give, through sqlite3 and through SQLAlchemy, what the ORM queries
  they replaced gave (kept below as the reference, `orm_banks` and `orm_queue`);
- the commands' output (table and JSON, every status filter, a case filter) and exit codes
  are the same with the light path as with those ORM queries on the Database.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from rempart.cases import queue as listing
from rempart.cases import withdrawal
from rempart.cases.review import ReviewItem
from rempart.cli import app
from rempart.store import light, repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import (
    Bank,
    BankItem,
    BankShare,
    Case,
    CaseOwner,
    FaceMatch,
    FaceMatchOccurrence,
    FaceTemplate,
    ItemSignal,
    Match,
    MatchOccurrence,
    ScanItem,
    ScanRun,
    Tenant,
)

pytestmark = pytest.mark.both_databases
runner = CliRunner()
T0 = datetime(2026, 11, 3, 14, 5, 6, 789000, tzinfo=UTC)


# --- the ORM queries the listings replaced: the reference ---------------------------------


def orm_banks(db: Database) -> list[light.BankSummary]:
    with db.session() as s:
        rows = s.execute(
            select(Bank, func.count(BankItem.id), func.count(func.distinct(BankItem.case_id)))
            .outerjoin(BankItem, BankItem.bank_id == Bank.id)
            .group_by(Bank.id)
            .order_by(Bank.name)
        ).all()
        return [light.BankSummary(b.name, b.description, b.pdq_threshold, n, c) for b, n, c in rows]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at is not None else None


def orm_queue(
    db: Database,
    *,
    case: str | None = None,
    status: str | None = "pending",
    ref: str | None = None,
    filters: listing.Filters | None = None,
) -> list[ReviewItem]:
    # the reference covers the listing as it was (filters and sorts: compared between the
    # two readers in test_filters_and_sorts_through_both_readers)
    assert filters is None or filters == listing.Filters()
    table, number = (Match if ref[0] == "m" else FaceMatch, int(ref[1:])) if ref else (None, 0)
    out: list[ReviewItem] = []
    with db.session() as s:
        seen = (
            select(func.count())
            .select_from(MatchOccurrence)
            .where(MatchOccurrence.match_id == Match.id)
            .scalar_subquery()
        )
        first, last = (
            select(agg(MatchOccurrence.seen_at))
            .where(MatchOccurrence.match_id == Match.id)
            .scalar_subquery()
            for agg in (func.min, func.max)
        )
        q = (
            select(Match, ScanItem, Case.number, Bank.name, seen, first, last, Bank.pdq_threshold)
            .join(ScanItem, Match.scan_item_id == ScanItem.id)
            .join(BankItem, Match.bank_item_id == BankItem.id)
            .join(Bank, BankItem.bank_id == Bank.id)
            .outerjoin(Case, BankItem.case_id == Case.id)
        )
        if case:
            q = q.where(Case.number == case)
        if status:
            q = q.where(Match.review_status == status)
        if table is not None:
            q = q.where(Match.id == (number if table is Match else -1))
        for m, item, case_number, bank, sightings, m_first, m_last, threshold in s.execute(
            q.order_by(Match.id)
        ).all():
            out.append(
                ReviewItem(
                    f"m{m.id}",
                    m.review_status,
                    case_number,
                    item.locator,
                    m.signal_type,
                    float(m.distance),
                    {"bank": bank, **(m.details or {})},
                    item.provenance or {},
                    m.reviewed_by,
                    m.review_reason,
                    m.possible_minor,
                    _iso(m.reviewed_at),
                    max(1, int(sightings or 0)),
                    _iso(m_first),
                    _iso(m_last),
                    m.transform,
                    threshold,
                )
            )
        fseen = (
            select(func.count())
            .select_from(FaceMatchOccurrence)
            .where(FaceMatchOccurrence.face_match_id == FaceMatch.id)
            .scalar_subquery()
        )
        ffirst, flast = (
            select(agg(FaceMatchOccurrence.seen_at))
            .where(FaceMatchOccurrence.face_match_id == FaceMatch.id)
            .scalar_subquery()
            for agg in (func.min, func.max)
        )
        fq = (
            select(FaceMatch, ScanItem, Case.number, fseen, ffirst, flast)
            .join(ScanItem, FaceMatch.scan_item_id == ScanItem.id)
            .join(FaceTemplate, FaceMatch.template_id == FaceTemplate.id)
            .join(Case, FaceTemplate.case_id == Case.id)
        )
        if case:
            fq = fq.where(Case.number == case)
        if status:
            fq = fq.where(FaceMatch.review_status == status)
        if table is not None:
            fq = fq.where(FaceMatch.id == (number if table is FaceMatch else -1))
        for fm, item, case_number, fsightings, f_first, f_last in s.execute(
            fq.order_by(FaceMatch.id)
        ).all():
            out.append(
                ReviewItem(
                    f"f{fm.id}",
                    fm.review_status,
                    case_number,
                    item.locator,
                    "face",
                    float(fm.distance),
                    {"box": fm.box, "time": fm.time},
                    item.provenance or {},
                    fm.reviewed_by,
                    fm.review_reason,
                    fm.possible_minor,
                    _iso(fm.reviewed_at),
                    max(1, int(fsightings or 0)),
                    _iso(f_first),
                    _iso(f_last),
                )
            )
    return sorted(out, key=lambda i: not i.possible_minor)


# --- a populated database -----------------------------------------------------------------


def populate(db: Database, home: Path) -> dict[str, Any]:
    """Banks, cases, tenants, entries, a scan with matches of every status and face
    matches; then one entry (with its match) withdrawn through the real withdrawal."""
    with db.session() as s:
        org = Tenant(name="helpline-a", kind="organisation")
        platform = Tenant(name="platform-x", kind="platform")
        cases = {n: Case(number=n) for n in ("C-1", "C-2", "C-3")}
        # created out of name order, with hostile descriptions
        banks = {
            "zeta": Bank(name="zeta", description="\x1b]8;;http://evil\x07link\x1b]8;;\x07"),
            "alpha": Bank(name="alpha", description="her [bold]photos[/bold]"),
            "beta": Bank(name="beta", description="", pdq_threshold=20),
            "empty": Bank(name="empty", description="nothing yet"),
        }
        s.add_all([org, platform, *cases.values(), *banks.values()])
        s.flush()
        s.add(CaseOwner(case_id=cases["C-1"].id, tenant_id=org.id))
        s.add_all(BankShare(bank_id=banks[b].id, tenant_id=platform.id) for b in ("alpha", "beta"))
        placed = [
            ("alpha", "C-1"),
            ("alpha", "C-1"),
            ("alpha", "C-1"),
            ("alpha", "C-2"),
            ("alpha", None),
            ("beta", "C-2"),
            ("beta", "C-2"),
            ("zeta", "C-3"),
        ]
        items = []
        for n, (bank, case) in enumerate(placed):
            item = BankItem(
                bank_id=banks[bank].id,
                case_id=cases[case].id if case else None,
                label=f"entry {n}",
            )
            s.add(item)
            s.flush()
            s.add(ItemSignal(item_id=item.id, signal_type="md5", value=f"{n:032x}", extra={}))
            items.append(item)
        scan = ScanRun(sources={"folders": ["/found"]})
        s.add(scan)
        s.flush()
        provenances: list[dict[str, Any]] = [
            {"chat": "room \x1b[2J[/bold]", "message_id": 4, "date": "2026-10-01T10:00:00"},
            {"url": "https://example.org/a.jpg"},
            {},
            {"chat": "second room", "sender": "x"},
        ]
        found = []
        for n in range(10):
            item_row = ScanItem(
                scan_id=scan.id,
                locator=f"/found/[reverse]f{n}.jpg",
                status="matched",
                provenance=provenances[n % len(provenances)],
            )
            s.add(item_row)
            s.flush()
            found.append(item_row)
        at = T0
        specs = [  # bank entry, status, minor, details
            (0, "pending", False, {"transform": "rotate90"}),
            (1, "confirmed", False, None),
            (2, "not-her", False, {"video": {"percent": 12.5, "ranges": [[1.0, 2.5]]}}),
            (3, "unsure", False, {"local_features": {"inliers": 57}}),
            (4, "pending", True, {}),
            (5, "pending", False, {"bank_note": "ünïcode 한국어"}),
            (6, "confirmed", True, {"distance_note": 3}),
            (7, "pending", False, None),
        ]
        matches = []
        for n, (entry, status, minor, details) in enumerate(specs):
            reviewed = status != "pending"
            m = Match(
                scan_item_id=found[n].id,
                bank_item_id=items[entry].id,
                signal_type=("pdq", "md5", "vpdq", "local-features")[n % 4],
                distance=n * 3,
                details=details,
                review_status=status,
                possible_minor=minor,
                reviewed_by="reviewer-a" if reviewed else None,
                reviewed_at=(at := at + timedelta(minutes=7)) if reviewed else None,
                review_reason="same [i]photo[/i]" if reviewed else None,
                content_sha256=f"{n:064x}",
            )
            s.add(m)
            s.flush()
            matches.append(m)
            for seen in range(1 + n % 3):  # 1 to 3 sightings
                s.add(MatchOccurrence(match_id=m.id, scan_item_id=found[(n + seen) % 10].id))
        template = FaceTemplate(case_id=cases["C-3"].id, ref="t1", ciphertext=b"not a template")
        s.add(template)
        s.flush()
        faces = []
        for n, (status, minor) in enumerate(
            [("pending", False), ("confirmed", True), ("not-her", False), ("unsure", False)]
        ):
            reviewed = status != "pending"
            fm = FaceMatch(
                scan_item_id=found[8 + n % 2].id,
                template_id=template.id,
                distance=0.25 + n / 10,
                box=[10, 20, 30 + n, 40],
                time=None if n % 2 else 1.5 * n,
                review_status=status,
                possible_minor=minor,
                reviewed_by="reviewer-b" if reviewed else None,
                reviewed_at=(at := at + timedelta(minutes=7)) if reviewed else None,
                review_reason="her face" if reviewed else None,
            )
            s.add(fm)
            s.flush()
            faces.append(fm)
            if n != 3:  # one face match with no occurrence row (sightings: at least 1)
                s.add(FaceMatchOccurrence(face_match_id=fm.id, scan_item_id=found[n].id))
        withdrawn_entry, withdrawn_match = items[1].id, matches[1].id
    result = withdrawal.withdraw_items(BankIndex(db, home), home, "C-1", items=[withdrawn_entry])
    assert result  # the entry and its match are gone; C-1 keeps two entries
    return {"withdrawn_match": f"m{withdrawn_match}", "matches": matches, "faces": faces}


@pytest.fixture
def populated(db_url: str, tmp_path: Path) -> Iterator[tuple[Database, dict[str, Any]]]:
    db = Database(db_url)
    facts = populate(db, tmp_path / "home")
    yield db, facts
    db.dispose()


def _dump(rows: list[Any]) -> str:
    """The values and their JSON types (True is not 1, 3.0 is not 3)."""
    return json.dumps([asdict(r) for r in rows])


def _filters(facts: dict[str, Any]) -> list[dict[str, Any]]:
    m, f = facts["matches"], facts["faces"]
    return [
        {},
        {"status": None},
        *({"status": st} for st in ("confirmed", "not-her", "unsure", "no-such-status")),
        {"case": "C-1"},
        {"case": "C-3", "status": None},
        {"case": "C-2", "status": "pending"},
        {"case": "NOPE", "status": None},
        {"status": None, "ref": f"m{m[3].id}"},
        {"status": None, "ref": f"f{f[1].id}"},
        {"ref": f"m{f[1].id + 1000}"},
        {"status": None, "ref": facts["withdrawn_match"]},
    ]


def test_listings_through_sqlite3_and_sqlalchemy_equal_the_orms(
    populated: tuple[Database, dict[str, Any]], db_url: str, db_backend: str
) -> None:
    db, facts = populated
    readers: list[light.Reader] = [db]
    quick = light.quick_reader(db_url)
    if db_backend == "sqlite":
        assert quick is not None  # an up-to-date SQLite file: the light path serves it
        readers.append(quick)
    else:
        assert quick is None  # PostgreSQL: the Database
    expected_banks = orm_banks(db)
    assert [(b.name, b.items, b.cases) for b in expected_banks] == [
        ("alpha", 4, 2),  # one of C-1's three entries withdrawn; one without a case
        ("beta", 2, 1),
        ("empty", 0, 0),
        ("zeta", 1, 1),
    ]
    with db.session() as s:
        assert repository.list_banks(s) == expected_banks
    everything = orm_queue(db, status=None)
    assert {i.status for i in everything} == {"pending", "confirmed", "not-her", "unsure"}
    assert {i.kind for i in everything} >= {"face", "pdq", "vpdq", "local-features"}
    assert everything[0].possible_minor and everything[-1].kind == "face"
    assert facts["withdrawn_match"] not in {i.ref for i in everything}
    assert {i.sightings for i in everything} == {1, 2, 3}
    assert any(i.case is None for i in everything) and any(i.reviewed_at for i in everything)
    for reader in readers:
        assert _dump(light.list_banks(reader)) == _dump(expected_banks)
        for f in _filters(facts):
            assert _dump(listing.queue(reader, **f)) == _dump(orm_queue(db, **f)), (reader, f)
        assert _dump([listing.get(reader, everything[0].ref)]) == _dump(everything[:1])
        for ref, message in (
            (facts["withdrawn_match"], "no match"),
            ("m" + "9" * 30, "no match"),  # no 64-bit id: nothing, no overflow
            ("x1", "not a match reference"),
        ):
            with pytest.raises(repository.StoreError, match=message):
                listing.get(reader, ref)
    if quick is not None:
        quick.close()


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


COMMANDS = [
    ("bank", "list"),
    ("bank", "list", "--format", "json"),
    ("review", "list"),
    ("review", "list", "--format", "json"),
    *(("review", "list", "--status", st) for st in ("all", "confirmed", "not-her", "unsure")),
    ("review", "list", "--status", "all", "--format", "json"),
    ("review", "list", "--case", "C-2", "--status", "all"),
    ("review", "list", "--case", "C-3", "--format", "json"),
]


def test_commands_print_what_the_orm_path_prints(
    populated: tuple[Database, dict[str, Any]],
    rempart_env: Path,
    db_backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[bool] = []
    quick_reader = light.quick_reader

    def watched(url: str) -> light.SqliteReader | None:
        reader = quick_reader(url)
        served.append(reader is not None)
        return reader

    monkeypatch.setattr(light, "quick_reader", watched)
    fast = [_cli(*c) for c in COMMANDS]
    assert served == [db_backend == "sqlite"] * len(COMMANDS)
    # the reference: the ORM queries the listings replaced, on the Database
    monkeypatch.setattr(light, "quick_reader", lambda url: None)
    monkeypatch.setattr(light, "list_banks", orm_banks)
    monkeypatch.setattr(listing, "queue", orm_queue)
    slow = [_cli(*c) for c in COMMANDS]
    for command, a, b in zip(COMMANDS, fast, slow, strict=True):
        assert a == b, command
        assert a[0] == 0, (command, a)
    banks = json.loads(fast[1][1])
    assert [b["name"] for b in banks] == ["alpha", "beta", "empty", "zeta"]
    assert "[bold]" in fast[0][1] and "\x1b" not in fast[0][1]  # shown, escaped
    every = json.loads(fast[8][1])
    assert len(every) == 11 and every[0]["possible_minor"] is True
    assert "\x1b" not in fast[4][1] and "[reverse]f" in fast[4][1]
    assert "11 match(es)" in fast[4][2]


def test_only_an_up_to_date_sqlite_file_takes_the_light_path(tmp_path: Path) -> None:
    assert light.quick_reader(f"sqlite:///{tmp_path / 'missing.db'}") is None
    assert not (tmp_path / "missing.db").exists()  # nothing created: Database does that
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert light.quick_reader(f"sqlite:///{garbage}") is None
    path = tmp_path / "old.db"
    Database(f"sqlite:///{path}").dispose()
    reader = light.quick_reader(f"sqlite:///{path}")
    assert reader is not None and light.list_banks(reader) == []
    reader.close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE alembic_version SET version_num = '0011'")
    assert light.quick_reader(f"sqlite:///{path}") is None  # to migrate: the Database's job
    for url in ("sqlite://", "sqlite:///:memory:", f"sqlite:///{path}?mode=ro"):
        assert light.quick_reader(url) is None


def test_a_listing_never_rewrites_the_audit_head(
    populated: tuple[Database, dict[str, Any]], rempart_env: Path
) -> None:
    """A listing changes nothing: rewriting the audit head after it (as every command once
    did) would make a log whose last entries were deleted look whole to `audit verify`."""
    db, _ = populated
    assert _cli("bank", "create", "another")[0] == 0  # a change: its entry, the head
    with db.engine.begin() as c:
        c.exec_driver_sql("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    for command in (("bank", "list"), ("review", "list", "--status", "all")):
        assert _cli(*command)[0] == 0
    code, out, err = _cli("audit", "verify")
    assert code == 1 and "truncated log" in out + err, (out, err)


def test_filters_and_sorts_through_both_readers(
    populated: tuple[Database, dict[str, Any]], db_url: str, db_backend: str
) -> None:
    """The queue's filters and sorts (issue 20) are SQL: sqlite3 and SQLAlchemy (SQLite or
    PostgreSQL) give the same answers, and each narrows or orders as it says."""
    db, _ = populated
    readers: list[light.Reader] = [db]
    quick = light.quick_reader(db_url)
    if quick is not None:
        readers.append(quick)
    everything = listing.queue(db, status=None)
    seen = [i for i in everything if i.first_seen]  # (matches recorded with sightings)
    assert seen and all(i.last_seen for i in seen)
    cases: list[listing.Filters] = [
        listing.Filters(method="pdq"),
        listing.Filters(method="face"),
        listing.Filters(source="SECOND ROOM"),
        listing.Filters(source="50%_no"),
        listing.Filters(since="2000-01-01", until="2999-12-31"),
        listing.Filters(until="2000-01-01"),
        listing.Filters(minor=True),
        *(listing.Filters(sort=s) for s in listing.SORTS),
    ]
    for reader in readers:
        for f in cases:
            assert _dump(listing.queue(reader, status=None, filters=f)) == _dump(
                listing.queue(db, status=None, filters=f)
            ), (reader, f)
    answers = {f: listing.queue(db, status=None, filters=f) for f in cases}
    assert {i.kind for i in answers[cases[0]]} == {"pdq"}
    assert {i.kind for i in answers[cases[1]]} == {"face"}
    # any sighting's place counts (its first one is the item's provenance)
    assert 0 < len(answers[cases[2]]) < len(everything)
    assert answers[cases[3]] == [] and answers[cases[5]] == []
    assert {i.ref for i in answers[cases[4]]} == {i.ref for i in seen}
    assert answers[cases[6]] and all(i.possible_minor for i in answers[cases[6]])
    most = listing.queue(db, status=None, filters=listing.Filters(sort="sightings"))
    plain = [i for i in most if not i.possible_minor]
    assert [i.sightings for i in plain] == sorted((i.sightings for i in plain), reverse=True)
    with pytest.raises(repository.StoreError, match="must be a day"):
        listing.queue(db, filters=listing.Filters(since="yesterday"))
    if quick is not None:
        quick.close()
