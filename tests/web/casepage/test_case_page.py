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
from tests.api.conftest import CONSENT, Server, World, build_world, item, jpeg
from tests.web.conftest import ARTIFACTS

from rempart.cases import review, self_opened, self_settings
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import AuditEntry, HeldSubmission, ItemSignal, Notice
from rempart.web import casepage
from rempart.web.hashpage.driver import HashPageRun, built_page

PHONE = {"width": 390, "height": 844}
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"RIFF", b"GIF8")


def _world(root: Path, db_url: str | None = None) -> World:
    world = build_world(root, db_url)
    db = Database(world.db_url)
    self_settings.set_org_settings(db, self_open=True, intake_bank="intake")
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
    """Her hash file, made by the real hashing page served at /hash/ (which then links to
    the case page on the same server)."""
    run = HashPageRun(browser, server.url + "/hash/", viewport=PHONE)
    try:
        run.set_options(robust=False)
        made = run.hash_files([world.root / "photos" / "mine.jpg"], out, 120_000, "Test Person")
        link = run.page.locator("#send-to-helpline")
        assert link.is_visible() and link.get_attribute("href") == "../case/"
        assert link.evaluate("a => a.href") == server.url + "/case/"
        assert link.inner_text() == "Send it to your helpline"
        return made
    finally:
        run.close()


def test_no_send_link_in_the_page_opened_from_disk(
    browser: Any, world: World, tmp_path: Path
) -> None:
    """`rempart hash-page --out`'s one file has no server behind it: no link to send."""
    run = HashPageRun(browser, built_page(tmp_path / "page.html").as_uri(), viewport=PHONE)
    try:
        run.set_options(robust=False)
        made = run.hash_files(
            [world.root / "photos" / "mine.jpg"], tmp_path / "h.json", 120_000, "Test Person"
        )
        assert made["items"] and run.page.locator("#download").is_visible()
        link = run.page.locator("#send-to-helpline")
        assert link.is_hidden() and link.get_attribute("href") is None
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
        assert [c.case for c in self_opened.self_opened_cases(db)] == [number]

        # She sends the page-made hash file: held until a caseworker has seen the case.
        tab.page.set_input_files("#hash-file", str(hash_file))
        tab.page.click("#send-submit")
        tab.page.wait_for_selector("#send-status:has-text('Sent')")
        tab.page.wait_for_selector(f'[data-count="hashes_waiting"]:has-text("{len(pdqs)}")')
        assert tab.count("hashes_registered") == 0
        assert self_opened.bank_entries(db, number) == 0  # nothing matched before review
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(HeldSubmission)) == 1

        # A caseworker takes it: her hashes enter the intake bank; a scan finds a copy.
        bank_index = BankIndex(db, world.home)
        taken = self_opened.take_case(self_settings.direct(bank_index), number)
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
        assert self_opened.bank_entries(db, number) == 0
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


SIGN_IN = "/v1/case-page/sign-in"


def _open(c: httpx.Client) -> tuple[str, str, str]:
    r = c.post("/v1/case-page/open", json={})
    assert r.status_code == 201, r.text
    d = r.json()
    return d["case"], d["secret"], d["token"]


def _hash_file(path: Path, seed: int, consent: bool = True) -> bytes:
    doc = Submission(
        [item(jpeg(seed))], consent=ConsentRecord.parse(CONSENT, "c") if consent else None
    )
    data = json.dumps(doc.to_json()).encode()
    path.write_bytes(data)
    return data


def test_one_answer_lockout_across_workers_csrf_and_bad_input(server: Server, world: World) -> None:
    db = Database(world.db_url)
    fresh = lambda: httpx.Client(base_url=server.url, timeout=20)  # noqa: E731 (a new connection)
    try:
        with fresh() as c:
            number, secret, token = _open(c)
            # One answer for a case that does not exist and for a wrong secret.
            a = c.post(SIGN_IN, json={"case": "NO-SUCH-CASE", "secret": "AAAAA-BBBBB"})
            b = c.post(SIGN_IN, json={"case": number, "secret": "AAAAA-BBBBB"})
            assert a.status_code == b.status_code == 403 and a.json() == b.json()
            # Four more wrong secrets, each on a new connection (either of the two workers):
            # the limit (5 per case number) is counted in the database, so the right secret
            # is now refused by both workers, with the same answer.
            for _ in range(4):
                with fresh() as one:
                    assert (
                        one.post(SIGN_IN, json={"case": number, "secret": "X"}).status_code == 403
                    )
            for _ in range(4):
                with fresh() as one:
                    r = one.post(SIGN_IN, json={"case": number, "secret": secret})
                    assert (r.status_code, r.json()) == (403, a.json())
            assert _audit(db, "case-page-sign-in") >= 10
            # The API's status check counts in the same place: 429 there (its contract).
            r = c.post(
                "/v1/status",
                json={"case": number, "secret": secret},
                headers={"Authorization": f"Bearer {world.keys['victim']}"},
            )
            assert r.status_code == 429 and int(r.headers["Retry-After"]) > 800

            # CSRF: another site's page cannot sign in, open, send or withdraw.
            number2, secret2, token2 = _open(c)
            ok = {"case": number2, "secret": secret2}
            for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
                assert c.post(SIGN_IN, json=ok, headers=headers).status_code == 403
                assert c.post("/v1/case-page/open", json={}, headers=headers).status_code == 403
                r = c.post(
                    "/v1/case-page/withdraw",
                    json={"confirm": True},
                    headers={**headers, "X-Case-Session": token2},
                )
                assert r.status_code == 403
            as_form = {"Content-Type": "application/x-www-form-urlencoded"}
            form = c.post(SIGN_IN, content=b"case=x&secret=y", headers=as_form)
            assert form.status_code == 422  # a plain form post is not accepted
            for bad in ("", "forged.token", token2[:-2] + "AA"):
                r = c.get("/v1/case-page/status", headers={"X-Case-Session": bad})
                assert r.status_code == 401 and "sign in again" in r.json()["detail"]
            session = {"X-Case-Session": token2, "Content-Type": "application/json"}
            assert c.get("/v1/case-page/status", headers=session).json()["hashes_registered"] == 0

            # Bad files: each refused with a message naming what is wrong; nothing kept.
            send = "/v1/case-page/send"
            r = c.post(send, content=b"\x00\xffnot json", headers=session)
            assert r.status_code == 422 and "not a hash file" in r.json()["detail"]
            r = c.post(send, content=b'{"hello": 1}', headers=session)
            assert r.status_code == 422 and "not a hash file" in r.json()["detail"]
            no_consent = _hash_file(world.root / "nc.json", 31, consent=False)
            r = c.post(send, content=no_consent, headers=session)
            assert r.status_code == 422 and "agreement" in r.json()["detail"]
            r = c.post(send, content=b" " * (9 * 1024 * 1024), headers=session)
            assert r.status_code == 413 and "too large" in r.json()["detail"]
            r = c.post("/v1/case-page/withdraw", json={"confirm": False}, headers=session)
            assert r.status_code == 422
            assert c.get("/v1/case-page/status", headers=session).json()["hashes_waiting"] == 0

            # A new secret (the helpline's web UI, CSRF-checked): the old secret and every
            # session of it stop at once.
            login = c.get("/ui/login")
            csrf = _csrf(login.text)
            r = c.post("/ui/login", data={"csrf": csrf, "key": world.keys["ca"], "next": "/ui/"})
            assert r.status_code == 303, r.text
            listing = c.get("/ui/self-cases")
            assert number2 in listing.text and "content-security-policy" in listing.headers
            csrf = _csrf(listing.text)
            take = f"/ui/self-cases/{number2}/take"
            assert c.post(take, data={}).status_code == 403  # no CSRF token
            assert c.post(take, data={"csrf": csrf}).status_code == 303
            assert number2 not in c.get("/ui/self-cases").text
            assert c.get(f"/ui/cases/{number2}").status_code == 200  # now her organisation's
            page = c.get(f"/ui/cases/{number2}/secret")
            assert c.post(f"/ui/cases/{number2}/secret", data={}).status_code == 403
            r = c.post(f"/ui/cases/{number2}/secret", data={"csrf": _csrf(page.text)})
            new = r.text.split('id="new-secret"><code>')[1].split("<")[0]
            assert len(new) == 11 and new != secret2
            assert c.get("/v1/case-page/status", headers=session).status_code == 401
            assert c.post(SIGN_IN, json=ok).status_code == 403
            assert c.post(SIGN_IN, json={"case": number2, "secret": new}).status_code == 200
            assert _audit(db, "case-new-secret", number2) == 1
            assert _audit(db, "case-take", number2) == 1

            # Where the helpline does not let people open cases: refused, and the page is told.
            self_settings.set_org_settings(db, self_open=False)
            try:
                assert c.get("/v1/case-page/config").json() == {"self_open": False}
                assert c.post("/v1/case-page/open", json={}).status_code == 403
            finally:
                self_settings.set_org_settings(db, self_open=True)
    finally:
        db.dispose()


def _csrf(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def test_page_bad_files_lost_network_and_languages(
    browser: Any, server: Server, world: World, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, timeout=20) as c:
        number, secret, _ = _open(c)
    context = browser.new_context(viewport=PHONE, locale="fr-FR", accept_downloads=True)
    context.set_default_timeout(20_000)
    try:
        tab = Tab(context, server.url)
        assert tab.page.text_content("h1") == "Votre dossier"  # the browser's language
        tab.page.select_option("#lang", "en")
        # the same words for a wrong secret and for a case that does not exist
        tab.sign_in(number, "WRONG-SECRET")
        tab.page.wait_for_selector("#signin-error:has-text('not recognised')")
        wrong_secret = tab.page.text_content("#signin-error")
        tab.page.evaluate("document.getElementById('signin-error').textContent = ''")
        tab.sign_in("NO-SUCH-CASE", secret)
        tab.page.wait_for_selector("#signin-error:has-text('not recognised')")
        assert tab.page.text_content("#signin-error") == wrong_secret
        tab.sign_in(number, secret)
        tab.page.wait_for_selector("#case-step:not([hidden])")

        def send(path: Path) -> str:
            tab.page.set_input_files("#hash-file", str(path))
            tab.page.click("#send-submit")
            tab.page.wait_for_selector("#send-status:not(:empty):not(:has-text('Sending'))")
            return tab.page.text_content("#send-status") or ""

        text = tmp_path / "my-hashes.json"
        text.write_text("these are not fingerprints")
        assert send(text).startswith("This is not a fingerprint file")
        huge = tmp_path / "huge.json"
        huge.write_bytes(b" " * (9 * 1024 * 1024))
        assert send(huge).startswith("This file is too large")
        hashes = tmp_path / "hashes.json"
        data = _hash_file(hashes, 41)
        # The network gone while sending: said, and the file can be saved to send later.
        context.set_offline(True)
        assert send(hashes).startswith("No connection: nothing was sent")
        link = tab.page.locator("#send-download")
        assert (link.get_attribute("href") or "").startswith("blob:")
        with tab.page.expect_download() as info:
            link.click()
        assert Path(info.value.path()).read_bytes() == data
        context.set_offline(False)
        assert send(hashes).startswith("Sent: 1 fingerprints")
        tab.page.wait_for_selector('[data-count="hashes_waiting"]:has-text("1")')
        tab.page.select_option("#lang", "ko")
        assert (
            tab.page.text_content("#send-status")
            == "보냄: 지문 1개. 상담원이 확인할 때까지 검색하지 않습니다."
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)  # phone-sized, for a person to look at
        tab.page.screenshot(path=str(ARTIFACTS / "casepage-ko.png"), full_page=True)
        _storage_empty(context, tab)
        assert tab.errors == []
    finally:
        context.close()


def test_catalogues_have_every_key() -> None:
    cats = casepage.catalogues()
    keys = set(dict(cats["en"]["strings"]))  # type: ignore[call-overload]
    for code, cat in cats.items():
        assert set(dict(cat["strings"])) == keys, code  # type: ignore[call-overload]
