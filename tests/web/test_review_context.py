"""The review queue with context (issue 20, item 1), through a real `rempart serve` and the
real command line: a Telegram export, a plain folder and a zip archive are scanned; each card
and each `review list` row says what was found, how sure, where and when, and how often; the
filters and sorts are the queue's SQL (CLI JSON and web); c / n / u choose a decision on the
match page in Chromium and Enter submits it with its reason; a decision is applied to the
pending exact copies of the same content in the same case after they were listed, audited per
match, other cases untouched. Only ordinary generated photos (rempart.samples.photo_like)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.api.conftest import CONSENT, Server, World, item
from tests.conftest import migrated_sqlite_url
from tests.sources.telegram_factory import message
from tests.web.conftest import jpeg, sign_in
from typer.testing import CliRunner

from rempart.api import keys
from rempart.cli import app
from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import AuditEntry, CaseOwner


def _build(root: Path) -> World:
    world = World(root, migrated_sqlite_url(root / "rempart.db"), root / "home")
    db = Database(world.db_url)
    index = BankIndex(db, world.home)
    consent = ConsentRecord.parse(CONSENT, "consent")
    with db.session() as s:
        repository.create_bank(s, "ncii")
        for name, role, tenant in (("admin", "admin", None), ("ca", "caseworker", "org-a")):
            key, info = keys.create_key(s, role, tenant, label=name)
            world.keys[name] = key
    # CASE-A: photos 1 (twice: as sent, and re-saved), 2 and 3; CASE-B: photo 1 re-saved
    bank_a = [jpeg(1), jpeg(1, quality=80), jpeg(2), jpeg(3)]
    import_submission(
        index, "ncii", Submission([item(b) for b in bank_a]), case_number="CASE-A", consent=consent
    )
    import_submission(
        index,
        "ncii",
        Submission([item(jpeg(1, quality=85))]),
        case_number="CASE-B",
        consent=consent,
    )
    with db.session() as s:
        for number in ("CASE-A", "CASE-B"):
            case = repository.get_case(s, number)
            assert case is not None
            s.add(CaseOwner(case_id=case.id, tenant_id=keys.get_tenant(s, "org-a").id))
    # a Telegram room with an exact copy of photo 1; a folder with a re-saved photo 2; an
    # archive with a re-saved photo 3 and the exact copy of photo 1 again
    room = root / "found" / "room"
    (room / "photos").mkdir(parents=True)
    (room / "photos" / "p1.jpg").write_bytes(jpeg(1))
    post = message(41, photo="photos/p1.jpg", width=480, height=360, forwarded_from="Channel Z")
    (room / "result.json").write_text(
        json.dumps({"name": "Room Kappa", "type": "private_group", "id": 777, "messages": [post]})
    )
    folder = root / "found" / "folder"
    folder.mkdir()
    (folder / "two.jpg").write_bytes(jpeg(2, (400, 300), quality=70))
    with zipfile.ZipFile(root / "found" / "zbundle.zip", "w") as z:
        z.writestr("inner/three.jpg", jpeg(3, (400, 300), quality=70))
        z.writestr("inner/again.jpg", jpeg(1))
    run_scan(db, index, [root / "found"], ScanOptions(workers=1, robust=None, synthetic=False))
    db.dispose()
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _build(tmp_path_factory.mktemp("review-context"))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[Server]:
    srv = Server(world, REMPART_WEB_COOKIE_SECURE="0")
    yield srv
    srv.stop()


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(world: World, *args: str, stdin: str = "") -> Ran:
    """`rempart ...` in this process (a child process costs a second per command)."""
    env = {"REMPART_DB": world.db_url, "REMPART_HOME": str(world.home), "COLUMNS": "250"}
    done = CliRunner().invoke(app, list(args), env=env, input=stdin)
    return Ran(done.exit_code, done.stdout, done.stderr)


def listing(world: World, *args: str) -> list[dict[str, Any]]:
    done = cli(world, "review", "list", "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_each_row_says_what_where_when(world: World) -> None:
    rows = listing(world, "--status", "all")
    by_what: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_what.setdefault(r["words"]["what"], []).append(r)
        assert r["first_seen"] and r["last_seen"] and r["threshold"] == 31
    assert {"exact copy", "look-alike"} <= set(by_what)
    exact = [r for r in by_what["exact copy"] if r["case"] == "CASE-A"][0]
    where = {w["label"]: w["value"] for w in exact["words"]["where"]}
    assert where["room"] == "Room Kappa" and where["message"] == "41"
    assert where["sender"] == "Sender One" and where["forwarded from"] == "Channel Z"
    assert exact["sightings"] == 2 and exact["words"]["sightings"] == "seen 2 time(s)"
    assert exact["words"]["how_sure"].endswith("certain")
    member = [r for r in rows if r["provenance"].get("member") == "inner/three.jpg"][0]
    assert member["words"]["what"] == "look-alike"
    assert "of 256 bits" in member["words"]["how_sure"]
    assert {"label": "archive member", "value": "inner/three.jpg"} in member["words"]["where"]
    folder = [r for r in rows if r["file"].endswith("two.jpg")][0]
    assert folder["words"]["where"][0]["label"] == "folder"
    fr = listing(world, "--status", "all", "--lang", "ko")
    assert any(r["words"]["what"] == "완전히 같은 사본" for r in fr)
    table = cli(world, "review", "list", "--status", "all")
    assert "exact copy" in table.stdout and "Room Kappa" in table.stdout


def test_filters_and_sorts_in_sql(world: World) -> None:
    everything = listing(world, "--status", "all")
    assert len(everything) >= 5
    exact = listing(world, "--status", "all", "--method", "sha256")
    assert exact and {r["kind"] for r in exact} == {"sha256"}
    room = listing(world, "--status", "all", "--source", "kappa")  # any case, any part
    assert room and all(r["provenance"].get("chat") == "Room Kappa" for r in room)
    assert {r["file"] for r in listing(world, "--status", "all", "--source", "zbundle.zip")} >= {
        r["file"] for r in everything if r["provenance"].get("member") == "inner/three.jpg"
    }
    assert listing(world, "--status", "all", "--case", "CASE-B") and all(
        r["case"] == "CASE-B" for r in listing(world, "--status", "all", "--case", "CASE-B")
    )
    assert listing(world, "--status", "all", "--minor") == []
    assert listing(world, "--status", "all", "--since", "2000-01-01") == everything
    assert listing(world, "--status", "all", "--until", "2000-01-01") == []
    closest = listing(world, "--status", "all", "--sort", "closest")
    assert [r["distance"] for r in closest] == sorted(r["distance"] for r in closest)
    most = listing(world, "--status", "all", "--sort", "sightings")
    assert [r["sightings"] for r in most] == sorted((r["sightings"] for r in most), reverse=True)
    bad = cli(world, "review", "list", "--since", "yesterday")
    assert bad.returncode != 0 and "--since must be a day" in bad.stderr + bad.stdout


def test_web_queue_cards_and_filters(server: Server, world: World) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        page = c.get("/ui/login")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        c.post("/ui/login", data={"csrf": csrf, "key": world.keys["ca"]})
        html = c.get("/ui/review").text
        assert "exact copy" in html and "Room Kappa" in html and "seen 2 time(s)" in html
        assert "first seen" in html and "archive member: inner/three.jpg" in html
        narrowed = c.get("/ui/review", params={"method": "sha256", "sort": "newest"}).text
        assert "exact copy" in narrowed and "look-alike" not in narrowed
        # the status tabs keep the filters
        assert "/ui/review?status=all&amp;method=sha256&amp;sort=newest" in narrowed
        assert c.get("/ui/review", params={"source": "no such room"}).text.count("card") <= 1
        bad = c.get("/ui/review", params={"since": "not-a-day"})
        assert bad.status_code == 200 and 'id="filter-error"' in bad.text
        csrf = bad.text.split('name="csrf" value="')[1].split('"')[0]  # the signed-in one
        c.post("/ui/lang", data={"csrf": csrf, "lang": "fr", "next": "/ui/review"})
        assert "copie exacte" in c.get("/ui/review").text


def _pending_look_alike(world: World) -> str:
    rows = listing(world, "--method", "pdq", "--case", "CASE-A")
    return next(r["ref"] for r in rows if r["file"].endswith("two.jpg"))


def test_keyboard_decision_in_chromium(server: Server, world: World, browser: Any) -> None:
    ref = _pending_look_alike(world)
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1200, "height": 900})
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        sign_in(page, world.keys["ca"])
        page.goto(f"/ui/matches/{ref}")
        assert "c" in page.inner_text("#shortcuts") and page.is_visible("#shortcuts")
        page.locator("body").press("n")
        assert page.is_checked("#decision-not-her")
        assert page.evaluate("document.activeElement.id") == "reason"
        page.keyboard.press("Enter")  # no reason: the browser keeps the form (required)
        assert page.url.endswith(f"/ui/matches/{ref}")
        page.keyboard.type("unrelated scene")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/ui/matches/{ref}?saved=decided")
        assert page.inner_text("#match-status").lower() == "not her"
    finally:
        ctx.close()
    decided = listing(world, "--status", "not-her")
    assert [r["reason"] for r in decided if r["ref"] == ref] == ["unrelated scene"]


def test_same_copies_listed_then_applied(server: Server, world: World) -> None:
    exact = [r for r in listing(world, "--case", "CASE-A") if r["kind"] == "sha256"][0]
    copies = [
        r
        for r in listing(world, "--case", "CASE-A")
        if r["ref"] != exact["ref"] and r["file"] == exact["file"]
    ]
    other_case = [r for r in listing(world, "--case", "CASE-B")]
    assert copies and other_case  # the same found file matched CASE-A twice and CASE-B
    # CLI: listed, then asked; answering no records nothing
    no = cli(
        world,
        "review",
        "decide",
        exact["ref"],
        "unsure",
        "--reason",
        "r",
        "--same-copies",
        stdin="n\n",
    )
    assert no.returncode == 1 and copies[0]["ref"] in no.stderr
    assert listing(world, "--case", "CASE-A", "--status", "unsure") == []
    # web: the confirmation page lists them; applying decides each, audited per match
    with httpx.Client(base_url=server.url, timeout=30) as c:
        csrf = c.get("/ui/login").text.split('name="csrf" value="')[1].split('"')[0]
        c.post("/ui/login", data={"csrf": csrf, "key": world.keys["ca"]})
        csrf = c.get("/ui/review").text.split('name="csrf" value="')[1].split('"')[0]
        form = {"csrf": csrf, "decision": "confirmed", "reason": "her photo", "same_copies": "1"}
        listed = c.post(f"/ui/matches/{exact['ref']}/decide", data=form)
        assert listed.status_code == 200 and 'id="copies-form"' in listed.text
        assert all(f'value="{r["ref"]}"' in listed.text for r in copies)
        assert listing(world, "--case", "CASE-A", "--status", "confirmed") == []  # not yet
        done = c.post(
            f"/ui/matches/{exact['ref']}/decide-copies",
            data={
                "csrf": csrf,
                "decision": "confirmed",
                "reason": "her photo",
                "copy": [r["ref"] for r in copies],
            },
        )
        assert done.status_code in (200, 303), done.text[-500:]
    confirmed = {r["ref"] for r in listing(world, "--status", "confirmed")}
    assert confirmed == {exact["ref"], *(r["ref"] for r in copies)}
    assert all(r["status"] == "pending" for r in listing(world, "--case", "CASE-B"))
    db = Database(world.db_url)
    try:
        with db.session() as s:
            entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "review")).all()
            details = [json.loads(a.details) for a in entries]
            audited = [d["match"] for d in details if d.get("decision") == "confirmed"]
    finally:
        db.dispose()
    assert sorted(audited) == sorted(confirmed)
