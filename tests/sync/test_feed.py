"""The change feed and its pages, in process: order, consent changes, checkpoints of another
database, backfill of existing data by the migration, page size limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, select

from rempart.exchange import rempart_list
from rempart.exchange.bank_import import import_submission
from rempart.exchange.hashlist import withdraw_hashes
from rempart.exchange.submission import Submission
from rempart.exchange.sync_client import SyncError, check_url, read_page
from rempart.exchange.sync_feed import build_page, feed_id, parse_checkpoint
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.changefeed import BankChange
from rempart.store.db import Database, alembic_config, normalise_url
from tests.api.conftest import item, jpeg
from tests.sync.conftest import NOT_SHARING, SHARING, consent


def setup(url: str, home: Path) -> tuple[Database, BankIndex]:
    db = Database(url)
    with db.session() as s:
        repository.create_bank(s, "shared")
        repository.create_bank(s, "elsewhere")
    return db, BankIndex(db, home)


def add(
    bank_index: BankIndex,
    case: str,
    seeds: tuple[int, ...],
    raw: dict[str, Any] | None,
    bank: str = "shared",
) -> None:
    import_submission(
        bank_index,
        bank,
        Submission([item(jpeg(i)) for i in seeds]),
        case_number=case,
        consent=consent(raw) if raw else None,
    )


def page(
    db: Database, since: str | None = None, limit: int = 500, max_bytes: int = 8 << 20
) -> dict[str, Any]:
    with db.session() as s:
        bank = repository.get_bank(s, "shared")
        doc, _ = build_page(s, bank, db.instance_id(), since, limit, max_bytes)
    return doc


def pages(db: Database, since: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    out = [page(db, since, **kw)]
    while out[-1]["sync"]["has_more"]:
        out.append(page(db, out[-1]["sync"]["checkpoint"], **kw))
        assert len(out) < 100
    return out


def sha(seed: int) -> str:
    return item(jpeg(seed)).sha256


@pytest.mark.both_databases
def test_feed_order_withdrawals_and_consent_changes(db_url: str, tmp_path: Path) -> None:
    db, bank_index = setup(db_url, tmp_path / "home")
    add(bank_index, "X", (1, 2), SHARING)
    add(bank_index, "NOX", (3,), NOT_SHARING)
    add(bank_index, "E", (4,), SHARING, bank="elsewhere")
    first = page(db)
    assert [i["sha256"] for i in first["items"]] == [sha(1), sha(2)]
    assert first["sync"]["withheld"] == 1 and first["withdrawn"] == []
    assert sha(3) not in json.dumps(first) and sha(4) not in json.dumps(first)
    cp = first["sync"]["checkpoint"]

    # X withdraws seed 1; then Y registers the same picture: B must end up holding it,
    # so the page ends before Y's entry (imports first, then withdrawals, would lose it)
    withdraw_hashes(bank_index, [("sha256", sha(1))], case_number="X", source="test")
    add(bank_index, "Y", (1,), SHARING)
    after = pages(db, cp)
    assert len(after) == 2, after
    assert after[0]["items"] == [] and len(after[0]["withdrawn"]) == 3
    digests = {w["value_sha256"] for w in after[0]["withdrawn"]}
    assert repository.withdrawal_digest(sha(1)) in digests
    assert [i["sha256"] for i in after[1]["items"]] == [sha(1)]
    # the withdrawn record holds digests only, never the hash
    assert sha(1) not in json.dumps(after[0])
    cp = after[-1]["sync"]["checkpoint"]

    # Z holds seed 2 too (exchange allowed); X withdrawing seed 2 then says nothing:
    # partners keep it, A still shares it
    add(bank_index, "Z", (2,), SHARING)
    withdraw_hashes(bank_index, [("sha256", sha(2))], case_number="X", source="test")
    quiet = pages(db, cp)
    assert [w for p in quiet for w in p["withdrawn"]] == []
    cp = quiet[-1]["sync"]["checkpoint"]

    # NOX's consent now allows exchange: its entry is offered; then no longer: withdrawn
    with db.session() as s:
        repository.record_consent(s, repository.get_case(s, "NOX").id, consent(SHARING))
    offered = pages(db, cp)
    assert [i["sha256"] for p in offered for i in p["items"]] == [sha(3)]
    cp = offered[-1]["sync"]["checkpoint"]
    with db.session() as s:
        repository.record_consent(s, repository.get_case(s, "NOX").id, consent(NOT_SHARING))
    taken_back = pages(db, cp)
    assert {w["value_sha256"] for p in taken_back for w in p["withdrawn"]} >= {
        repository.withdrawal_digest(sha(3))
    }
    assert [i for p in taken_back for i in p["items"]] == []
    # the whole feed from the start never carries NOX's or the other bank's hash in clear
    everything = json.dumps(pages(db, limit=2))
    assert sha(3) not in everything and sha(4) not in everything
    # every page is a valid Rempart hash list
    for p in pages(db, limit=2):
        parsed = rempart_list.parse(p, "page")
        assert parsed.problem_count == 0
    with db.session() as s:
        seqs = list(s.scalars(select(BankChange.seq).order_by(BankChange.seq)))
    assert seqs == sorted(set(seqs))
    db.dispose()


def test_checkpoints_of_another_database_or_ahead_start_again(tmp_path: Path) -> None:
    db, bank_index = setup(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "home")
    add(bank_index, "X", (1, 2), SHARING)
    feed = feed_id(db.instance_id())
    assert feed not in db.instance_id()  # the instance id (it keys case references) stays
    full = page(db)
    assert full["sync"]["restarted"] is None and len(full["items"]) == 2
    other = page(db, "0123456789abcdef-1")
    assert other["sync"]["restarted"] and len(other["items"]) == 2
    ahead = page(db, f"{feed}-999")
    assert ahead["sync"]["restarted"] and len(ahead["items"]) == 2
    assert page(db, full["sync"]["checkpoint"])["items"] == []
    for bad in ("abc", f"{feed}-x", f"{feed}--1", "1" * 70):
        with pytest.raises(ValueError):
            parse_checkpoint(bad)
    # one entry per page when a page's bytes are limited: it still makes progress
    small = pages(db, max_bytes=10)
    assert [len(p["items"]) for p in small] == [1, 1]
    db.dispose()


def test_the_migration_puts_existing_data_in_the_feed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db, bank_index = setup(url, tmp_path / "home")
    add(bank_index, "X", (1, 2, 3), SHARING)
    withdraw_hashes(bank_index, [("sha256", sha(3))], case_number="X", source="test")
    db.dispose()
    cfg = alembic_config(normalise_url(url))
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:  # as if the database predated sync
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010_api")
    engine.dispose()
    db = Database(url)  # upgraded again: the feed is rebuilt from the tables
    doc = page(db)
    assert [i["sha256"] for i in doc["items"]] == [sha(1), sha(2)]
    assert repository.withdrawal_digest(sha(3)) in {w["value_sha256"] for w in doc["withdrawn"]}
    db.dispose()


def test_client_checks() -> None:
    assert check_url("https://Rempart.Example.org/base/") == "https://rempart.example.org/base"
    assert check_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert check_url("http://[::1]:8000/") == "http://[::1]:8000"
    assert check_url("http://partner.example", insecure=True) == "http://partner.example"
    for bad in (
        "http://partner.example",
        "ftp://x",
        "https://u:p@x.example",
        "https://x/?a=1",
        "nonsense",
    ):
        with pytest.raises(SyncError):
            check_url(bad)
    good = {
        "format": "rempart-hash-list",
        "version": 1,
        "bank": {"name": "shared"},
        "items": [],
        "withdrawn": [],
        "sync": {
            "feed": "0" * 16,
            "since": "0",
            "checkpoint": "0" * 16 + "-4",
            "has_more": False,
            "changes": 4,
            "withheld": 0,
            "restarted": None,
        },
    }
    assert read_page(good, "p", "shared", "0").checkpoint == "0" * 16 + "-4"
    broken: list[tuple[dict[str, Any], str]] = [
        ({**good, "sync": None}, "no 'sync'"),
        ({**good, "bank": {"name": "other"}}, "not bank"),
        ({**good, "sync": {**good["sync"], "checkpoint": "x"}}, "bad checkpoint"),
        ({**good, "sync": {**good["sync"], "since": "1" * 16 + "-2"}}, "answers since"),
        ({**good, "sync": {**good["sync"], "has_more": True, "changes": 0}}, "no progress"),
        ({**good, "version": 9}, "unsupported version"),
    ]
    for doc, why in broken:
        with pytest.raises(SyncError, match=why):
            read_page(doc, "p", "shared", "0")
    with pytest.raises(SyncError, match="does not follow"):  # a checkpoint going backwards
        read_page(
            {**good, "sync": {**good["sync"], "since": "0" * 16 + "-9"}},
            "p",
            "shared",
            "0" * 16 + "-9",
        )


def test_fetcher_redirects_sizes_and_answers() -> None:
    import httpx

    from rempart.exchange.sync_client import MAX_PAGE_BYTES, PageFetcher

    good = {"ok": True}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        path = request.url.path
        assert request.headers["authorization"] == "Bearer KEY"
        if path == "/v1/sync/same":
            return httpx.Response(307, headers={"location": "/moved/v1/sync/x?since=0"})
        if path == "/moved/v1/sync/x":
            return httpx.Response(200, json=good)
        if path == "/v1/sync/away":
            return httpx.Response(302, headers={"location": "https://elsewhere.example/x"})
        if path == "/v1/sync/downgrade":
            return httpx.Response(302, headers={"location": "http://partner.example/x"})
        if path == "/v1/sync/huge":
            return httpx.Response(
                200,
                headers={
                    "content-length": str(MAX_PAGE_BYTES + 1),
                    "content-type": "application/json",
                },
            )
        if path == "/v1/sync/html":
            return httpx.Response(200, text="<html>", headers={"content-type": "text/html"})
        if path == "/v1/sync/locked":
            return httpx.Response(401, json={"detail": "unknown or revoked API key"})
        return httpx.Response(500, json={"detail": "internal error"})

    f = PageFetcher("https://partner.example", "KEY", transport=httpx.MockTransport(handler))
    assert f.page("same", "0", 10) == good  # a same-host redirect is followed
    for bank, why in (
        ("away", "redirected to another place"),
        ("downgrade", "redirected to another place"),
        ("huge", "over the"),
        ("html", "not JSON"),
        ("locked", "refused the key"),
        ("broken", "answered 500"),
    ):
        with pytest.raises(SyncError, match=why):
            f.page(bank, "0", 10)
    assert not any("elsewhere" in u for u in seen)
    f.close()
