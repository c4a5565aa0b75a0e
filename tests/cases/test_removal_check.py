"""Removal verified by fetching (`rempart notice check`, the serve schedule) against a real
HTTP server on loopback (allowed explicitly, as tests/sources/test_urls.py does; the
production default refuses it, checked here too)."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from rempart.cases import notices, removal_check, removal_schedule, stats
from rempart.cli import app
from rempart.samples import photo_like
from rempart.sources.urls import FetchOptions
from rempart.store.db import Database
from rempart.store.models import AuditEntry, Case, Notice, RemovalCheck
from rempart.store.repository import StoreError

runner = CliRunner()
LOOPBACK = "127.0.0.1/32"


def jpeg(seed: int, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    photo_like(seed, (320, 240)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class Site:
    """What each path answers: 'before' (when the scan found the copies), then 'after'."""

    def __init__(self) -> None:
        self.after = False
        self.seen: list[str] = []
        self.photos = {1: jpeg(1), 2: jpeg(2), 5: jpeg(5), 11: jpeg(1, quality=60)}


def handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, code: int, body: bytes, ctype: str, location: str = "") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the check gave up waiting (the slow answer)
                pass

        def do_GET(self) -> None:  # noqa: N802
            site.seen.append(self.path)
            path = self.path.split("?")[0]
            name = path.rsplit("/", 1)[-1]
            if path == "/pic.jpg":  # the picture a page names
                return self._send(200, site.photos[2], "image/jpeg")
            if not site.after:  # when the scan ran: every copy up
                seed = 1 if path.startswith("/a/") else 2
                return self._send(200, site.photos[seed], "image/jpeg")
            if name == "a1.jpg":
                return self._send(404, b"not here", "text/plain")
            if name == "a2.jpg":
                return self._send(410, b"gone", "text/plain")
            if name == "up.jpg":
                return self._send(200, site.photos[2], "image/jpeg")
            if name == "reencoded.jpg":  # the same picture, saved again: PDQ says so
                return self._send(200, jpeg(2, quality=55), "image/jpeg")
            if name == "other.jpg":
                return self._send(200, site.photos[5], "image/jpeg")
            if name == "removed.jpg":
                page = b"<html><h1>This content is no longer available</h1></html>"
                return self._send(200, page, "text/html; charset=utf-8")
            if name == "page.jpg":  # now a page showing the same picture
                page = b'<html><meta property="og:image" content="/pic.jpg"><p>hi</p></html>'
                return self._send(200, page, "text/html")
            if name == "loop.jpg":
                return self._send(302, b"", "text/plain", self.path)
            if name == "private.jpg":
                return self._send(302, b"", "text/plain", "http://10.20.30.40/x.jpg")
            if name == "slow.jpg":
                time.sleep(3)
                return self._send(200, site.photos[2], "image/jpeg")
            if name == "broken.jpg":
                return self._send(503, b"busy", "text/plain")
            return self._send(404, b"", "text/plain")

    return Handler


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    state = Site()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def rempart(*args: str, code: int = 0) -> str:
    """The command's output (its standard output alone when it prints JSON)."""
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", "REMPART_USER": "cw"})
    assert result.exit_code == code, result.output
    return result.stdout if "--json" in args else result.output


B_PLACES = (
    "up",
    "reencoded",
    "other",
    "removed",
    "page",
    "loop",
    "private",
    "slow",
    "broken",
)


def lab_data(home: Path) -> None:
    """The organisation's notice data with a 'lab' platform on 127.0.0.1, and its removal
    page (what a non-programmer adds to removal_pages.toml)."""
    notices_dir = home / "notices"
    shutil.copytree(str(resources.files("rempart") / "data" / "notices"), notices_dir)
    with (notices_dir / "platforms.toml").open("a") as f:
        f.write(
            '\n[lab]\nname = "Lab"\ncontact = "abuse@lab.test"\ndomains = ["127.0.0.1"]\n'
            'jurisdictions = ["EU"]\nlanguage = "en"\n'
        )
    bundled = (resources.files("rempart") / "data" / "removal_pages.toml").read_text()
    (home / "removal_pages.toml").write_text(
        bundled + '\n[lab]\nname = "Lab"\nhosts = ["127.0.0.1"]\nfetch_query = "embed=1"\n'
        'gone_text = ["This content is no longer available"]\n'
    )


def two_notices(tmp: Path, consent: Path, server: str) -> tuple[int, int]:
    """Case C-9: her two photos found at several addresses, confirmed, noticed and sent:
    notice A (photo 1 at two addresses), notice B (photo 2 at every other)."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    lab_data(home)
    hers = tmp / "hers"
    hers.mkdir()
    (hers / "one.jpg").write_bytes(jpeg(1))
    (hers / "two.jpg").write_bytes(jpeg(2))
    rempart("hash", str(hers), "--out", str(tmp / "s.json"))
    rempart("bank", "create", "b")
    rempart("bank", "import", "b", str(tmp / "s.json"), "--case", "C-9", "--consent", str(consent))
    links = tmp / "links.txt"
    urls = [f"{server}/a/a1.jpg", f"{server}/a/a2.jpg"]
    urls += [f"{server}/b/{n}.jpg" for n in B_PLACES]
    links.write_text("\n".join(urls) + "\n")
    rempart("scan", "--urls", str(links), "--bank", "b", "--allow-network", LOOPBACK)
    items = json.loads(rempart("review", "list", "--format", "json"))
    assert len(items) == 2, items
    refs = {}
    for item in items:
        rempart("review", "decide", item["ref"], "confirmed", "--reason", "her photo")
        refs["a" if "/a/" in json.dumps(item) else "b"] = item["ref"]
    ids = []
    for key in ("a", "b"):
        rempart("notice", "create", "--case", "C-9", "--platform", "lab", "--match", refs[key])
        ids.append(notices.all_notices(Database(os.environ["REMPART_DB"]))[-1].id)
        rempart("notice", "mark", str(ids[-1]), "sent")
    return ids[0], ids[1]


def test_notice_check_records_what_each_place_shows(
    site: tuple[Site, str], rempart_env: Path, consent_file: Path
) -> None:
    state, server = site
    a, b = two_notices(rempart_env, consent_file, server)
    db = Database(os.environ["REMPART_DB"])
    assert {i["place"] for i in notices.all_notices(db)[0].items} == {
        f"{server}/a/a1.jpg",
        f"{server}/a/a2.jpg",
    }
    state.after = True
    # the production default refuses loopback: never fetched, never counted as removed
    got = json.loads(rempart("notice", "check", str(a), "--json", "--pace", "0", code=3))
    assert {p["reason"] for p in got["notices"][0]["places"]} == {"private-address"}
    assert {p["outcome"] for p in got["notices"][0]["places"]} == {"unreachable"}
    assert notices.all_notices(db)[0].status == "sent"

    start = time.monotonic()
    args = ["--json", "--pace", "0", "--timeout", "1.5", "--allow-network", LOOPBACK]
    got = json.loads(rempart("notice", "check", str(a), str(b), "999", *args, code=3))
    took = time.monotonic() - start
    assert got["problems"] == ["N-999: no such notice"]  # named; the others checked
    by_notice = {n["notice"]: n for n in got["notices"]}
    na, nb = by_notice[f"N-{a}"], by_notice[f"N-{b}"]
    assert {p["url"].rsplit("/", 1)[-1]: p["outcome"] for p in na["places"]} == {
        "a1.jpg": "gone",
        "a2.jpg": "gone",
    }
    assert {p["http_status"] for p in na["places"]} == {404, 410}
    outcome = {p["url"].rsplit("/", 1)[-1][:-4]: p for p in nb["places"]}
    assert {k: v["outcome"] for k, v in outcome.items()} == {
        "up": "up",
        "reencoded": "up",
        "other": "changed",
        "removed": "gone",
        "page": "up",
        "loop": "unreachable",
        "private": "unreachable",
        "slow": "unreachable",
        "broken": "unreachable",
    }
    assert outcome["up"]["reason"] == "exact"
    assert outcome["reencoded"]["reason"].startswith("pdq distance")
    assert outcome["removed"]["reason"] == "removal-page:lab"
    assert outcome["page"]["reason"].startswith("page picture")
    assert outcome["loop"]["reason"] == "too-many-redirects"
    assert outcome["private"]["reason"] == "private-address"
    assert outcome["slow"]["reason"] == "timeout"
    assert outcome["broken"]["reason"] == "http-503"
    assert outcome["up"]["body_sha256"] == hashlib.sha256(jpeg(2)).hexdigest()
    assert any("embed=1" in p for p in state.seen)  # the platform's fetch_query was added
    assert took < 20

    # A: every place gone: removal time set, verified; B: still up: due again now
    assert na["removal_verified"] and na["status"] == "removed"
    assert nb["renotice_due"] and not nb["removal_verified"]
    rows = {n.id: n for n in notices.all_notices(db)}
    assert rows[a].status == "removed" and rows[a].removal_verified and rows[a].removed_at
    assert b in [n.id for n in notices.due(db)]
    assert notices.removal_times(db, verified=True).keys() == {"lab"}
    assert notices.removal_times(db, verified=False) == {}
    with db.session() as s:
        checks = list(s.scalars(select(RemovalCheck).where(RemovalCheck.notice_id == a)))
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert len(checks) == 4  # two refused (private), then two gone, all kept as proof
    assert all(c.body_sha256 for c in checks if c.outcome == "gone")
    check_entries = [e for e in entries if e.action == "notice-check"]
    assert len(check_entries) == 3 and '"body_sha256"' in check_entries[-1].details
    status = [e for e in entries if e.action == "notice-status" and '"verified_by"' in e.details]
    assert len(status) == 1 and '"fetch"' in status[0].details and status[0].actor == "cw"
    rempart("audit", "verify")  # the chain, with the new entries, is whole

    # `rempart report` shows verified removal times per platform apart from hand-marked
    figures = stats.collect(db)["platforms"]["lab"]
    assert figures["removed_verified"] == 1 and figures["median_hours_to_verified_removal"] >= 0
    # a second check of A (removed) changes nothing; the table form names the outcomes
    table = rempart("notice", "check", str(a), "--pace", "0", "--allow-network", LOOPBACK)
    assert "gone" in table and "http-404" in table


def test_bad_requests_and_private_chat_links(rempart_env: Path) -> None:
    assert "--all-due" in rempart("notice", "check", code=1)
    assert "24h" in rempart("serve", "--check-removals-every", "soon", code=1)
    pages = removal_check.load_pages(None)
    telegram = next(p for p in pages if p.key == "telegram")
    checker = removal_check.Checker(pages)
    try:
        got = checker.check(
            "telegram:555/2",
            "https://t.me/c/555/2",
            removal_check._Reference(frozenset(), ()),
        )
    finally:
        checker.close()
    assert got.outcome == "unknown" and got.reason == "unverifiable" and telegram.fetch_query
    bad = rempart_env / "home"
    bad.mkdir(exist_ok=True)
    (bad / "removal_pages.toml").write_text("[x]\nmedia = ['(']\n")
    with pytest.raises(StoreError, match="removal_pages.toml"):
        removal_check.load_pages(bad)


def test_pictures_named_by_a_page_hostile_pages_too() -> None:
    telegram = next(p for p in removal_check.load_pages(None) if p.key == "telegram")
    post = (
        '<div class="tgme_widget_message"><a class="tgme_widget_message_photo_wrap" '
        "style=\"width:800px;background-image:url('https://cdn.example/file/abc.jpg')\"></a>"
        '<meta property="og:image" content="/og.jpg"><script>alert(1)</script>'
    )
    found = removal_check._page_media(post, "https://t.me/room/5?embed=1", telegram)
    assert found == ["https://cdn.example/file/abc.jpg", "https://t.me/og.jpg"]  # page order
    hostile = "<meta " * 200_000 + "<div " + "a" * 1_000_000 + '<meta name="twitter:image"'
    start = time.monotonic()
    assert removal_check._page_media(hostile, "https://x.test/", telegram) == []
    assert time.monotonic() - start < 5
    assert removal_check._page_media("<a href='javascript:x'>", "https://x.test/", None) == []


def test_pacing_between_fetches_from_one_host() -> None:
    slept: list[float] = []
    pacer = removal_check.Pacer(0.5, sleep=slept.append)
    pacer.wait("http://a.test/1")
    pacer.wait("http://b.test/1")
    pacer.wait("http://a.test/2")
    assert len(slept) == 1 and 0.4 < slept[0] <= 0.5


def sent_notice(db: Database, url: str) -> int:
    """A sent notice naming one address (its match unknown: only 'gone' can be proven)."""
    with db.session() as s:
        case = Case(number="C-1")
        s.add(case)
        s.flush()
        notice = Notice(
            case_id=case.id,
            platform="lab",
            language="en",
            jurisdictions=[],
            items=[{"match": "m1", "place": url}],
            text="",
            status="draft",
        )
        s.add(notice)
        s.flush()
        nid = notice.id
    notices.mark(db, nid, "sent")
    return nid


@pytest.mark.both_databases
def test_the_schedule_runs_once_across_two_workers(
    site: tuple[Site, str], rempart_env: Path
) -> None:
    """Two workers' schedules on one database: one check per interval, not two."""
    state, server = site
    state.after = True
    db = Database(os.environ["REMPART_DB"])
    sent_notice(db, f"{server}/a/a1.jpg")
    options = FetchOptions(allowed_networks=(ipaddress.ip_network(LOOPBACK),), deadline=3.0)
    home = rempart_env / "home"
    workers = [
        removal_schedule.Schedule(
            Database(os.environ["REMPART_DB"]),
            home,
            timedelta(hours=1),
            holder=f"worker-{n}",
            poll=0.05,
            options=options,
            pace=0,
        )
        for n in range(2)
    ]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sum(w.runs for w in workers) < 1:
        time.sleep(0.05)
    time.sleep(0.5)  # both keep polling: the interval is not over, neither runs again
    for w in workers:
        w.stop()
    assert sum(w.runs for w in workers) == 1
    with db.session() as s:
        assert len(list(s.scalars(select(RemovalCheck)))) == 1
    (n,) = notices.all_notices(db)
    assert n.status == "removed" and n.removal_verified
    assert removal_schedule.run_scheduled(db, home, "worker-3", timedelta(hours=1)) is None


def test_rempart_serve_runs_the_schedule(
    site: tuple[Site, str], rempart_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server `rempart serve --check-removals-every` starts (rempart.server) runs the
    check in the background while it answers; off without the setting."""
    from fastapi.testclient import TestClient

    from rempart.api.settings import ApiSettings
    from rempart.server import create_app

    state, server = site
    state.after = True
    db = Database(os.environ["REMPART_DB"])
    nid = sent_notice(db, f"{server}/a/a2.jpg")
    settings = ApiSettings(db_url=os.environ["REMPART_DB"], home=rempart_env / "home")
    assert not hasattr(create_app(settings).state, "removal_schedule")  # off by default
    monkeypatch.setenv("REMPART_CHECK_REMOVALS_EVERY", "1h")
    monkeypatch.setenv("REMPART_CHECK_REMOVALS_ALLOW", LOOPBACK)
    monkeypatch.setenv("REMPART_CHECK_REMOVALS_POLL", "0.05")
    app = create_app(settings)
    with TestClient(app) as client:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not app.state.removal_schedule.runs:
            time.sleep(0.05)
        assert client.get("/health").status_code == 200
    assert app.state.removal_schedule.runs == 1
    (n,) = notices.all_notices(db)
    assert n.id == nid and n.status == "removed" and n.removal_verified
