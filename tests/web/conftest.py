"""The web UI's tests: a real `rempart serve` on a free loopback port over a database with two
organisations (org-a: CASE-A, three banked photos; org-b: CASE-B, one), a scan that found a
re-encoded copy of CASE-A's first photo and one of CASE-B's, a folder in the scan root to scan
from the UI; and one Debian chromium for the whole session, driven by Playwright.

Only ordinary generated photos (rempart.samples.photo_like) are used. Chromium that cannot
start fails the tests (it is installed by `make test`), except with REMPART_SKIP_BROWSER=1
outside CI."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import CONSENT, Server, World, item
from tests.conftest import migrated_sqlite_url
from tests.sources.telegram_factory import message

from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission
from rempart.samples import photo_like
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import CaseOwner

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
HERE = Path(__file__).resolve().parent


def jpeg(seed: int, size: tuple[int, int] = (480, 360), quality: int = 90) -> bytes:
    buf = io.BytesIO()
    photo_like(seed, size).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def build_world(root: Path, *, large: bool = True) -> World:
    """The world described at the top. `large=False` leaves out batch-1's forty large
    pictures (about a second of CPU to make), which only a test that follows a running scan
    of batch-1 needs (test_browser.py, on the session's world)."""
    from rempart.api import keys
    from rempart.cases import workflow

    world = World(root, migrated_sqlite_url(root / "rempart.db"), root / "home")
    db = Database(world.db_url)
    bank_index = BankIndex(db, world.home)
    consent = ConsentRecord.parse(CONSENT, "consent")
    with db.session() as s:
        repository.create_bank(s, "ncii")
        for name, role, tenant in (
            ("admin", "admin", None),
            ("ca", "caseworker", "org-a"),
            ("cb", "caseworker", "org-b"),
            ("pa", "platform", "plat-a"),
        ):
            key, info = keys.create_key(s, role, tenant, label=name)
            world.keys[name] = key
            world.key_ids[name] = info.key_id
    for seed in (1, 2, 3, 4):
        world.images[seed] = jpeg(seed)
    import_submission(
        bank_index,
        "ncii",
        Submission([item(world.images[s]) for s in (1, 2, 3)]),
        case_number="CASE-A",
        consent=consent,
    )
    import_submission(
        bank_index,
        "ncii",
        Submission([item(world.images[4])]),
        case_number="CASE-B",
        consent=consent,
    )
    world.secrets["CASE-A"] = workflow.open_case(db, "CASE-A")
    with db.session() as s:
        for number, org in (("CASE-A", "org-a"), ("CASE-B", "org-b")):
            case = repository.get_case(s, number)
            s.add(CaseOwner(case_id=case.id, tenant_id=keys.get_tenant(s, org).id))
    # What a scan found: re-encoded copies of CASE-A's photo 1 and CASE-B's photo 4, and an
    # unrelated photo.
    # They were posted in a Telegram room (a notice lists only a platform's copies).
    found = root / "found"
    (found / "photos").mkdir(parents=True)
    posts = []
    for mid, (seed, name) in enumerate(
        ((1, "copy-of-a.jpg"), (4, "copy-of-b.jpg"), (50, "unrelated.jpg")), 2
    ):
        (found / "photos" / name).write_bytes(jpeg(seed, (400, 300), quality=70))
        posts.append(message(mid, photo=f"photos/{name}", width=400, height=300))
    (found / "result.json").write_text(
        json.dumps({"name": "Room A", "type": "private_supergroup", "id": 555, "messages": posts})
    )
    result = run_scan(db, bank_index, [found], ScanOptions(workers=1, robust=None))
    assert len(result.matches) >= 2, result.matches
    # A folder to scan from the UI, in org-a's inbox: a copy of CASE-A's photo 2 among
    # unrelated photos.
    batch = root / "inbox" / "org-a" / "batch-1"
    batch.mkdir(parents=True)
    (batch / "a-copy.jpg").write_bytes(jpeg(2, (360, 270), quality=75))
    for seed in range(60, 66):
        (batch / f"other-{seed}.jpg").write_bytes(jpeg(seed, (320, 240)))
    # ... and enough larger pictures (distinct files: each saved at several qualities) that
    # the scan takes a second or two, so that the page follows it while it runs.
    for seed in range(70, 74) if large else ():
        picture = photo_like(seed, (1024, 768))
        for quality in range(60, 100, 4):
            buf = io.BytesIO()
            picture.save(buf, "JPEG", quality=quality)
            (batch / f"large-{seed}-q{quality}.jpg").write_bytes(buf.getvalue())
    db.dispose()
    return world


def match_refs(world: World) -> dict[str, str]:
    """Case number -> the first match reference (m<id>) of that case."""
    from rempart.cases import review

    db = Database(world.db_url)
    try:
        out: dict[str, str] = {}
        for i in review.queue(db, status=None):
            if i.case:
                out.setdefault(i.case, i.ref)
        return out
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def web_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="session")
def web_server(web_world: World) -> Iterator[Server]:
    srv = Server(
        web_world,
        REMPART_WEB_COOKIE_SECURE="0",
        REMPART_WEB_SCAN_ROOT=str(web_world.root / "inbox"),
    )
    yield srv
    srv.stop()


# The event loop of the session's Playwright. Its sync API marks that loop as running in
# this thread from its start to its end: any later test (on the same xdist worker) that runs
# an event loop of its own, asyncio.run() or another sync_playwright(), would be refused.
# The mark is set only while a test that uses the browser runs (pytest_runtest_protocol).
_PLAYWRIGHT_LOOP: list[asyncio.AbstractEventLoop] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    # (this file's `browser`: tests elsewhere may have their own, tests/deploy/test_https.py)
    uses = "browser" in getattr(item, "fixturenames", ()) and item.path.is_relative_to(HERE)
    if uses and _PLAYWRIGHT_LOOP:
        asyncio.events._set_running_loop(_PLAYWRIGHT_LOOP[0])
    try:
        return (yield)
    finally:
        if uses and _PLAYWRIGHT_LOOP:
            asyncio.events._set_running_loop(None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian chromium for the session (per xdist worker)."""
    if os.environ.get("REMPART_SKIP_BROWSER") == "1" and not os.environ.get("CI"):
        pytest.skip("REMPART_SKIP_BROWSER=1: browser tests not run")
    from playwright.sync_api import Error, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing (Debian package chromium; `make test` installs it)",
            pytrace=False,
        )
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Error as exc:
        pw.stop()
        pytest.fail(f"chromium could not start: {exc}", pytrace=False)
    _PLAYWRIGHT_LOOP.append(asyncio.get_running_loop())
    yield b
    # the session may end after a test that does not use the browser
    asyncio.events._set_running_loop(_PLAYWRIGHT_LOOP.pop())
    b.close()
    pw.stop()


class Shots:
    """Screenshots under the test's tmp path, copied to test-artifacts/web/."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder, self.prefix = folder, prefix
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, name: str) -> Path:
        path = self.folder / f"{self.prefix}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return path


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest) -> Shots:
    return Shots(tmp_path, request.node.name.removeprefix("test_"))


@pytest.fixture
def context(browser: Any, web_server: Server) -> Iterator[Any]:
    """A fresh browser profile (no cookies) per test."""
    ctx = browser.new_context(
        base_url=web_server.url, viewport={"width": 1200, "height": 900}, locale="en-GB"
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def sign_in(page: Any, key: str) -> None:
    page.goto("/ui/login")
    page.fill("#key", key)
    page.click("#login-submit")
    page.wait_for_url("**/ui/")
