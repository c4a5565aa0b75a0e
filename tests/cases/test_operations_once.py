"""Each operation is written once (issue 17): the CLI and the API call the same domain
function, each with its actor, and the functions do everything the operation must do.

Spies wrap the real functions (the module attribute the front-ends resolve at call time) and
let them run: the front-ends are driven for real (the CLI in-process through Typer's
CliRunner, the API through FastAPI's TestClient), the database is SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from rempart.access import keys
from rempart.api.app import create_app
from rempart.api.settings import ApiSettings
from rempart.cases import withdrawal
from rempart.config import Policy, load_settings
from rempart.exchange import sharing
from rempart.exchange.hashlist import withdraw_hashes
from rempart.samples import photo_like
from rempart.scan.options import ScanOptions
from rempart.scan.pipeline import run_scan
from rempart.signals.exact import file_digests
from rempart.store import audit, repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import (
    AuditEntry,
    BankItem,
    BankShare,
    CaseEvent,
    FaceTemplate,
    Withdrawal,
)
from rempart.store.repository import StoreError
from tests.api.conftest import World, build_world, item, wait_for

pytestmark = pytest.mark.both_databases

runner = CliRunner()


class Spy:
    """Records each call of a domain function (with the actor acting then), then runs it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any], str]] = []
        real: Callable[..., Any] = getattr(module, name)

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((args, kwargs, audit.current_actor()))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)


@pytest.fixture
def world(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = build_world(tmp_path, db_url)
    monkeypatch.setenv("REMPART_DB", w.db_url)
    monkeypatch.setenv("REMPART_HOME", str(w.home))
    yield w


def _api(world: World) -> TestClient:
    return TestClient(
        create_app(ApiSettings(db_url=world.db_url, home=world.home, index_poll_s=0.1))
    )


def _auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[who]}"}


def _cli(*args: str, user: str = "cli-person", code: int = 0) -> str:
    result = runner.invoke(_cli_app(), list(args), env={"COLUMNS": "300", "REMPART_USER": user})
    assert result.exit_code == code, result.output
    return result.output


def _cli_app() -> Any:
    from rempart.cli import app

    return app


def _entries(db: Database, number: str) -> list[int]:
    with db.session() as s:
        case = repository.get_case(s, number)
        assert case is not None
        return list(s.scalars(select(BankItem.id).where(BankItem.case_id == case.id)))


def _last_audit(db: Database) -> AuditEntry:
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
        assert entry is not None
        s.expunge(entry)
        return entry


# --- both front-ends call the same function, each with its actor ---------------------------


def test_case_withdrawal_is_one_function_for_the_api_and_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch, withdrawal, "withdraw_case")
    with _api(world) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)
        r = c.post("/v1/cases/CASE-A/withdraw", headers=_auth(world, "ca"))
        assert r.status_code == 200, r.text
        assert r.json() == {
            "case": "CASE-A",
            "status": "withdrawn",
            "indexed_hashes_removed": 3,
            "face_templates_removed": 0,
        }
    _cli("case", "withdraw", "CASE-B", "--yes", user="cli-person")
    assert [(call[0][2], call[2]) for call in spy.calls] == [
        ("CASE-A", _actor_of(world, "ca")),
        ("CASE-B", "cli-person"),
    ]
    db = Database(world.db_url)
    with db.session() as s:
        notes = {
            e.note: e.actor
            for e in s.scalars(select(CaseEvent).where(CaseEvent.to_status == "withdrawn"))
        }
    assert notes == {
        "withdrawn (through the API)": _actor_of(world, "ca"),
        "withdrawn by her": "cli-person",
    }
    db.dispose()


def test_item_withdrawal_is_one_function_for_the_api_and_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch, withdrawal, "withdraw_items")
    db = Database(world.db_url)
    first, second, _ = _entries(db, "CASE-A")
    with _api(world) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)
        r = c.delete(f"/v1/banks/ncii/entries/{first}", headers=_auth(world, "ca"))
        assert r.status_code == 200, r.text
        assert r.json() == {"bank": "ncii", "bank_entry": first, "withdrawn": True}
    _cli("case", "withdraw", "CASE-A", "--item", str(second), user="cli-person")
    assert [(list(call[0][3]), call[2]) for call in spy.calls] == [
        ([first], _actor_of(world, "ca")),
        ([second], "cli-person"),
    ]
    assert len(_entries(db, "CASE-A")) == 1
    db.dispose()


def test_bank_sharing_is_one_function_for_the_api_and_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    shares = Spy(monkeypatch, sharing, "share_bank")
    unshares = Spy(monkeypatch, sharing, "unshare_bank")
    with _api(world) as c:
        r = c.put("/v1/banks/other/shares/plat-a", headers=_auth(world, "admin"))
        assert r.status_code == 200, r.text
        assert r.json() == {"bank": "other", "tenant": "plat-a", "shared": True}
        r = c.delete("/v1/banks/ncii/shares/plat-a", headers=_auth(world, "admin"))
        assert r.json() == {"bank": "ncii", "tenant": "plat-a", "shared": False}
    _cli("bank", "share", "ncii", "--tenant", "plat-new", user="cli-person")
    _cli("bank", "share", "other", "--tenant", "plat-a", "--stop", user="cli-person")
    admin = _actor_of(world, "admin")
    assert [(c[0][1:3], c[2]) for c in shares.calls] == [
        (("other", "plat-a"), admin),
        (("ncii", "plat-new"), "cli-person"),
    ]
    assert [(c[0][1:3], c[2]) for c in unshares.calls] == [
        (("ncii", "plat-a"), admin),
        (("other", "plat-a"), "cli-person"),
    ]


def test_bank_creation_is_one_function_for_the_api_and_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch, sharing, "create_bank")
    with _api(world) as c:
        r = c.post(
            "/v1/banks",
            json={"name": "api-bank", "pdq_threshold": 20},
            headers=_auth(world, "admin"),
        )
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "api-bank" and r.json()["pdq_threshold"] == 20
        r = c.post("/v1/banks", json={"name": "api-bank"}, headers=_auth(world, "admin"))
        assert r.status_code == 400 and "already exists" in r.json()["detail"]
    _cli("bank", "create", "cli-bank", "--threshold", "12", user="cli-person")
    assert [(c[0][1], c[2]) for c in spy.calls] == [
        ("api-bank", _actor_of(world, "admin")),
        ("api-bank", _actor_of(world, "admin")),
        ("cli-bank", "cli-person"),
    ]
    db = Database(world.db_url)
    with db.session() as s:
        created = [
            (e.actor, json.loads(e.details))
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "bank-create"))
        ]
    assert created == [
        (_actor_of(world, "admin"), {"bank": "api-bank", "threshold": 20}),
        ("cli-person", {"bank": "cli-bank", "threshold": 12}),
    ]
    db.dispose()


def test_api_keys_are_issued_and_revoked_by_one_function_for_the_api_and_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = Spy(monkeypatch, keys, "issue_key")
    revoked = Spy(monkeypatch, keys, "withdraw_key")
    with _api(world) as c:
        r = c.post(
            "/v1/keys",
            json={"role": "platform", "tenant": "plat-x", "label": "api"},
            headers=_auth(world, "admin"),
        )
        assert r.status_code == 201, r.text
        api_key = r.json()["key_id"]
        assert c.delete(f"/v1/keys/{api_key}", headers=_auth(world, "admin")).status_code == 200
    _cli("apikey", "create", "--role", "platform", "--tenant", "plat-y", user="cli-person")
    db = Database(world.db_url)
    with db.session() as s:
        cli_key = next(k.key_id for k in keys.list_keys(s) if k.tenant == "plat-y")
    _cli("apikey", "revoke", cli_key, user="cli-person")
    admin = _actor_of(world, "admin")
    assert [(c[0][1:3], c[2]) for c in issued.calls] == [
        (("platform", "plat-x"), admin),
        (("platform", "plat-y"), "cli-person"),
    ]
    assert [(c[0][1], c[2]) for c in revoked.calls] == [(api_key, admin), (cli_key, "cli-person")]
    with db.session() as s:
        entries = [
            (e.action, e.actor, json.loads(e.details))
            for e in s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(("apikey-create", "apikey-revoke")))
                .order_by(AuditEntry.id)
            )
        ]
    assert entries[-4:] == [
        ("apikey-create", admin, {"key_id": api_key, "role": "platform", "tenant": "plat-x"}),
        ("apikey-revoke", admin, {"key_id": api_key}),
        (
            "apikey-create",
            "cli-person",
            {"key_id": cli_key, "role": "platform", "tenant": "plat-y"},
        ),
        ("apikey-revoke", "cli-person", {"key_id": cli_key}),
    ]
    db.dispose()


def _actor_of(world: World, who: str) -> str:
    """How the API names a key's holder (rempart.api.auth.Principal.actor)."""
    tenant = {"ca": "org-a", "admin": "admin"}[who]
    return f"api:{tenant}:{world.key_ids[who]}"


# --- what the functions do -------------------------------------------------------------------


def _scan_copies(world: World, seeds: tuple[int, ...]) -> dict[int, str]:
    """Scan copies of banked photos (and one unrelated photo, seed 77) with the hash cache
    on; returns seed -> the copy's SHA-256."""
    found = world.root / "found"
    found.mkdir(exist_ok=True)
    for seed in (*seeds, 77):
        photo_like(seed, (320, 240)).save(found / f"{seed}.jpg", quality=80)
    db = Database(world.db_url)
    run_scan(
        db,
        BankIndex(db, world.home),
        [found],
        ScanOptions(cache_dir=str(world.home / "cache" / "hashes"), robust=None),
    )
    db.dispose()
    return {seed: file_digests(found / f"{seed}.jpg")[1] for seed in (*seeds, 77)}


def _cached(home: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (home / "cache" / "hashes").rglob("*.json")}


def test_withdraw_case_does_everything_once(world: World) -> None:
    db = Database(world.db_url)
    sha = _scan_copies(world, (1, 2))
    assert set(sha.values()) <= _cached(world.home)
    with db.session() as s:
        case = repository.get_case(s, "CASE-A")
        assert case is not None
        s.add(FaceTemplate(case_id=case.id, ref="t" * 32, ciphertext=b"\0" * 64))
    bank_index = BankIndex(db, world.home)
    done = withdrawal.withdraw_case(
        bank_index, world.home, "CASE-A", actor="someone", note="withdrawn in a test"
    )
    assert (done.case, done.indexed_hashes, done.face_templates) == ("CASE-A", 3, 1)
    assert done.cached_copies >= 2
    left = _cached(world.home)
    assert sha[1] not in left and sha[2] not in left and sha[77] in left
    assert _entries(db, "CASE-A") == []
    assert len(bank_index.load()) == 1  # CASE-B's photo only
    entry = _last_audit(db)
    assert (entry.action, entry.actor, entry.case_number) == ("case-withdraw", "someone", "CASE-A")
    assert json.loads(entry.details) == {"hashes": 3, "face_templates": 1}
    with db.session() as s:
        case = repository.get_case(s, "CASE-A")
        assert case is not None and case.status == "withdrawn"
        assert all(c.withdrawn_at is not None for c in case.consents)
        event = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())
        ).first()
        assert event is not None
        assert (event.actor, event.note, event.to_status) == (
            "someone",
            "withdrawn in a test",
            "withdrawn",
        )
        kept = s.scalars(select(Withdrawal).where(Withdrawal.case_number == "CASE-A")).all()
        assert len(kept) >= 3  # one-way records for partners (pdq, md5, sha256 of each)
    db.dispose()


def test_withdraw_case_refuses_an_unknown_case_and_changes_nothing(world: World) -> None:
    db = Database(world.db_url)
    with pytest.raises(withdrawal.NoSuchCase, match="no case NOPE"):
        withdrawal.withdraw_case(BankIndex(db, world.home), world.home, "NOPE")
    assert len(_entries(db, "CASE-A")) == 3
    db.dispose()


def test_withdraw_items_deletes_only_those_and_purges_their_copies(world: World) -> None:
    db = Database(world.db_url)
    sha = _scan_copies(world, (1, 2))
    first, *rest = sorted(_entries(db, "CASE-A"))
    done = withdrawal.withdraw_items(
        BankIndex(db, world.home), world.home, "CASE-A", [first], actor="someone"
    )
    assert (done.bank_entries, done.face_templates, done.indexed_hashes) == ([first], [], 1)
    assert sorted(_entries(db, "CASE-A")) == rest
    entry = _last_audit(db)
    assert (entry.action, entry.actor) == ("withdraw-items", "someone")
    assert json.loads(entry.details) == {"bank_entries": [first], "face_templates": []}
    assert sha[77] in _cached(world.home)
    with pytest.raises(StoreError, match="has no bank entry"):
        withdrawal.withdraw_items(BankIndex(db, world.home), world.home, "CASE-A", [first])
    db.dispose()


def test_api_withdrawal_purges_the_hash_cache_of_her_copies(world: World) -> None:
    """Regression: the API's withdrawal left the cached hashes of scanned copies of her
    pictures in the home folder (only the CLI purged them)."""
    sha = _scan_copies(world, (1, 2, 3))
    with _api(world) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)
        r = c.post("/v1/cases/CASE-A/withdraw", headers=_auth(world, "ca"))
        assert r.status_code == 200, r.text
    left = _cached(world.home)
    assert not {sha[1], sha[2], sha[3]} & left
    assert sha[77] in left


def test_a_lists_withdrawal_purges_the_hash_cache_of_the_copies(world: World) -> None:
    """Regression: withdrawals in an imported or synced hash list (exchange.hashlist) deleted
    the entries but left the cached hashes of scanned copies of them (only the CLI's case
    withdrawal purged them)."""
    db = Database(world.db_url)
    sha = _scan_copies(world, (1, 2))
    pdq = item(world.images[1]).pdq
    assert pdq is not None
    removed, kept = withdraw_hashes(
        BankIndex(db, world.home), [("pdq", pdq)], case_number="CASE-A", source="test"
    )
    assert (removed, kept) == (1, 0)
    left = _cached(world.home)
    assert sha[1] not in left and sha[2] in left and sha[77] in left
    db.dispose()


def test_share_and_unshare_bank(world: World) -> None:
    db = Database(world.db_url)
    done = sharing.share_bank(db, "other", "plat-a", actor="someone")
    assert done == sharing.Share("other", "plat-a", shared=True, changed=True)
    assert sharing.share_bank(db, "other", "plat-a").changed is False
    entry = _last_audit(db)
    assert entry.action == "bank-share"
    assert json.loads(entry.details) == {"bank": "other", "tenant": "plat-a"}
    assert sharing.unshare_bank(db, "other", "plat-a", actor="x").changed is True
    assert _last_audit(db).action == "bank-unshare"
    with pytest.raises(StoreError, match="no tenant named 'plat-z'"):
        sharing.share_bank(db, "other", "plat-z")
    assert sharing.share_bank(db, "other", "plat-z", create=True).shared
    with pytest.raises(StoreError, match="'org-a' is not a platform"):
        sharing.share_bank(db, "other", "org-a")
    with pytest.raises(StoreError, match="is a organisation, not a platform"):
        sharing.share_bank(db, "other", "org-a", create=True)
    with pytest.raises(StoreError, match="no bank named 'nope'"):
        sharing.share_bank(db, "nope", "plat-a")
    with db.session() as s:
        shared = {(b, t) for b, t in s.execute(select(BankShare.bank_id, BankShare.tenant_id))}
    assert len(shared) == 3  # ncii/plat-a, other/plat-b, other/plat-z
    db.dispose()


# --- the policy, read in one place --------------------------------------------------------------


def test_policy_comes_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Policy.from_env({}) == Policy(evidence_media=False, csam_authorised=False, user=None)
    assert Policy.from_env(
        {
            "REMPART_EVIDENCE_MEDIA": "allowed",
            "REMPART_CSAM_AUTHORISED": "yes",
            "REMPART_USER": "amira",
        }
    ) == Policy(True, True, "amira")
    assert (
        Policy.from_env({"REMPART_EVIDENCE_MEDIA": "yes", "REMPART_CSAM_AUTHORISED": "1"})
        == Policy()
    )  # only the documented values enable them
    settings = load_settings(home=tmp_path / "home")
    monkeypatch.setenv("REMPART_USER", "caseworker-9")
    monkeypatch.setenv("REMPART_EVIDENCE_MEDIA", "allowed")
    assert settings.policy == Policy(evidence_media=True, user="caseworker-9")
    assert audit.current_actor() == "caseworker-9"
    with audit.acting_as("key owner"):
        assert audit.current_actor() == "key owner"
