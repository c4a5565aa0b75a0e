"""Accessibility and small screens (issue 20, item 5), checked in Debian's chromium.

Every page of the caseworker UI, her hashing page (/hash/), her case page (/case/) and the
API reference (/docs) is checked by axe-core (the npm package, read from node_modules and
injected into the page: never loaded from a CDN) for the WCAG 2.0/2.1 A and AA rules and
axe's best practices; a serious or critical violation fails the test. Each page is also
photographed at phone (390x844) and desktop (1280x800) widths into test-artifacts/web/a11y/
and must not scroll sideways on a phone; the sign-in and decision forms are walked with the
Tab key (every control reached, focus visible).

axe is added to each page as a Playwright init script (run by the browser through its
DevTools protocol, like page.evaluate), so the pages keep their own Content-Security-Policy
(no inline script) and are checked as served: no bypass_csp. A planted fault shows that axe
really runs and reports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import Server, World
from tests.web.conftest import ARTIFACTS, build_world, jpeg, sign_in

from rempart.cases import notices, review
from rempart.samples import photo_like
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ARTIFACTS / "a11y"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# The UI's buttons, menu links and fields (not ticks) at phone width: 44 px high at least.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'button, select, input:not([type=radio]):not([type=checkbox]):not([type=hidden]),'
    + ' header nav a, .tabs a')]
  .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 43.5)
  .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} "${e.textContent.trim()
    .slice(0, 30)}" ${Math.round(e.getBoundingClientRect().height)} px`)"""
OWN_STYLES = {"hash", "case-page", "docs"}  # her pages and the API reference: their own CSS
RUN_AXE = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                     resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
}"""


class A11yWorld:
    """The server over a populated database, and the pages to check (name -> path)."""

    def __init__(self, world: World, server: Server, pages: dict[str, str]) -> None:
        self.world, self.server, self.pages = world, server, pages


def _populate(world: World) -> dict[str, str]:
    """On top of tests.web.conftest's world: a second, pending match of CASE-A (a copy of
    its photo 3 in a folder), CASE-A's Telegram match confirmed, and a notice for it."""
    db = Database(world.db_url)
    try:
        folder = world.root / "found-2"
        folder.mkdir()
        (folder / "copy-of-a3.jpg").write_bytes(jpeg(3, (400, 300), quality=72))
        run_scan(db, BankIndex(db, world.home), [folder], ScanOptions(workers=1, robust=None))
        items = [i for i in review.queue(db, status=None) if i.case == "CASE-A"]
        assert len(items) >= 2, items
        confirmed = next(i for i in items if i.provenance and "555" in json.dumps(i.provenance))
        pending = next(i for i in items if i.ref != confirmed.ref)
        review.decide(db, confirmed.ref, "confirmed", "her photo, re-encoded", actor="test")
        notice = notices.create(db, world.home, "CASE-A", "telegram", organisation="org-a")
        return {"pending": pending.ref, "confirmed": confirmed.ref, "notice": str(notice.id)}
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def a11y(tmp_path_factory: pytest.TempPathFactory) -> Iterator[A11yWorld]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make hashpage does)", pytrace=False)
    root = tmp_path_factory.mktemp("a11y")
    world = build_world(root, large=False)  # its scan page follows a scan of 'tiny'
    refs = _populate(world)
    tiny = root / "inbox" / "org-a" / "tiny"
    tiny.mkdir(parents=True)
    for seed in (80, 81):
        photo_like(seed, (200, 150)).save(tiny / f"p{seed}.jpg", "JPEG")
    server = Server(world, REMPART_WEB_COOKIE_SECURE="0", REMPART_WEB_SCAN_ROOT=str(root / "inbox"))
    pages = {
        "cases": "/ui/",
        "case": "/ui/cases/CASE-A",
        "review": "/ui/review",
        "review-all": "/ui/review?status=all",
        "match-pending": f"/ui/matches/{refs['pending']}",
        "match-confirmed": f"/ui/matches/{refs['confirmed']}",
        "notices": "/ui/notices",
        "notice": f"/ui/notices/{refs['notice']}",
        "scans": "/ui/scans",
        "stats": "/ui/stats",
        "rooms": "/ui/rooms",
        "self-cases": "/ui/self-cases",
        "case-secret": "/ui/cases/CASE-A/secret",
        "error": "/ui/cases/NO-SUCH-CASE",
        "hash": "/hash/",
        "case-page": "/case/",
        "docs": "/docs",
    }
    yield A11yWorld(world, server, pages)
    server.stop()


def _context(
    browser: Any, a11y: A11yWorld, viewport: dict[str, int], locale: str, axe: bool = False
) -> Any:
    ctx = browser.new_context(base_url=a11y.server.url, viewport=viewport, locale=locale)
    ctx.set_default_timeout(15_000)
    if axe:  # in every page of this context, before its own scripts
        ctx.add_init_script(path=str(AXE))
    return ctx


def _signed_in_with_scan(ctx: Any, a11y: A11yWorld) -> Any:
    """A page signed in as org-a's caseworker; the first time, a small scan is started from
    the UI (so that a scan page exists) and followed to its end."""
    page = ctx.new_page()
    sign_in(page, a11y.world.keys["ca"])
    if "scan" not in a11y.pages:
        page.goto("/ui/scans")
        page.select_option("#folder", "tiny")
        page.check("input[name=bank][value=ncii]")
        page.click("#scan-start")
        page.wait_for_url(re.compile(r".*/ui/scans/[A-Za-z0-9_-]+$"))
        page.wait_for_selector("#scan-state[data-state=finished]", timeout=30_000)
        a11y.pages["scan"] = page.url.removeprefix(a11y.server.url)
    return page


def _goto(page: Any, name: str, path: str) -> None:
    """Open a page; one that did not answer as expected (the error page: 404) fails here,
    naming it, rather than have axe judge a bare error answer."""
    response = page.goto(path)
    status = response.status if response is not None else None
    assert status == (404 if name == "error" else 200), f"{name} ({path}) answered {status}"


def _axe(page: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE, TAGS)
    return found


def _readable(name: str, path: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{name} ({path}):"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        for n in v["nodes"][:5]:
            summary = " ".join((n["summary"] or "").split())[:300]
            lines.append(f"      {n['target']}  -- {summary}")
        if len(v["nodes"]) > 5:
            lines.append(f"      ... and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login_page(ctx: Any) -> Any:
    page = ctx.new_page()
    page.goto("/ui/login")
    return page


def test_axe_every_page_desktop(browser: Any, a11y: A11yWorld) -> None:
    ctx = _context(browser, a11y, DESKTOP, "en-GB", axe=True)
    failures: list[str] = []
    minor: list[str] = []
    try:
        page = _login_page(ctx)
        checks: list[tuple[str, str]] = [("login", "/ui/login")]
        page = _signed_in_with_scan(ctx, a11y)
        checks += list(a11y.pages.items())
        for name, path in checks:
            _goto(page, name, path)
            found = _axe(page)
            bad = [v for v in found if v["impact"] in BLOCKING]
            if bad:
                failures.append(_readable(name, path, bad))
            if len(bad) < len(found):
                minor.append(_readable(name, path, [v for v in found if v not in bad]))
            _shot(page, f"desktop-{name}")
        # The review queue and her case in French and Korean.
        for lang in ("fr", "ko"):
            page.goto("/ui/")
            page.click(f"#lang-{lang}")
            page.wait_for_selector(f"html[lang={lang}]", state="attached")
            for name in ("review", "case"):
                path = a11y.pages[name]
                page.goto(path)
                found = _axe(page)
                bad = [v for v in found if v["impact"] in BLOCKING]
                if bad:
                    failures.append(_readable(f"{name} [{lang}]", path, bad))
                _shot(page, f"desktop-{name}-{lang}")
        page.click("#lang-en")
    finally:
        ctx.close()
    if minor:
        print("axe: moderate/minor findings (not failing):\n" + "\n".join(minor))
    assert not failures, "axe found serious or critical violations:\n" + "\n".join(failures)


def test_phone_width_no_sideways_scroll(browser: Any, a11y: A11yWorld) -> None:
    ctx = _context(browser, a11y, PHONE, "en-GB")
    wide: list[str] = []
    small: list[str] = []
    try:
        page = _login_page(ctx)
        checks = [("login", "/ui/login")]
        page = _signed_in_with_scan(ctx, a11y)
        checks += list(a11y.pages.items())
        for name, path in checks:
            _goto(page, name, path)
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if widths[0] > widths[1]:
                wide.append(f"{name} ({path}): {widths[0]} px wide in a {widths[1]} px window")
            if name not in OWN_STYLES:
                small += [f"{name}: {t}" for t in page.evaluate(SMALL_TARGETS)]
            _shot(page, f"phone-{name}")
    finally:
        ctx.close()
    assert not wide, "pages that scroll sideways on a phone:\n" + "\n".join(wide)
    assert not small, "controls under 44 px high on a phone:\n" + "\n".join(small)


def _tab_through(page: Any, wanted: list[str], limit: int = 60) -> dict[str, str]:
    """Press Tab until every selector in wanted had the focus; the outline style each had."""
    seen: dict[str, str] = {}
    for _ in range(limit):
        page.keyboard.press("Tab")
        for sel in wanted:
            if sel not in seen and page.evaluate(
                "(s) => document.activeElement === document.querySelector(s)", sel
            ):
                seen[sel] = page.evaluate(
                    "() => { const s = getComputedStyle(document.activeElement);"
                    " return s.outlineStyle + ' ' + s.outlineWidth; }"
                )
        if len(seen) == len(wanted):
            break
    return seen


def test_keyboard_login_and_decision(browser: Any, a11y: A11yWorld) -> None:
    ctx = _context(browser, a11y, DESKTOP, "en-GB")
    try:
        page = _login_page(ctx)
        seen = _tab_through(page, ["#key", "#login-submit"])
        assert set(seen) == {"#key", "#login-submit"}, seen
        page.focus("#key")
        page.keyboard.type(a11y.world.keys["ca"])
        page.keyboard.press("Enter")  # signs in from the keyboard
        page.wait_for_url("**/ui/")
        page.goto(a11y.pages["match-pending"])
        wanted = ["#decision-confirmed", "#reason", "#decide"]
        seen.update(_tab_through(page, wanted))
        assert set(wanted) <= set(seen), seen
        for sel, outline in seen.items():
            style, width = outline.split(" ")
            assert style != "none" and float(width.removesuffix("px")) >= 2, (sel, outline)
        # The radio group is walked with the arrow keys, as a screen reader user expects.
        page.focus("#decision-confirmed")
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.id") != "decision-confirmed"
    finally:
        ctx.close()


def test_axe_finds_a_planted_fault(browser: Any) -> None:
    """The check can fail: a page with a nameless image, an unlabelled field and no lang."""
    page = browser.new_page()
    try:
        page.set_content("<title>t</title><main><img src='x.png'><input type='text'></main>")
        page.add_script_tag(path=str(AXE))
        found = {v["id"] for v in page.evaluate(RUN_AXE, TAGS) if v["impact"] in BLOCKING}
    finally:
        page.close()
    assert {"image-alt", "label", "html-has-lang"} <= found, found


def test_axe_is_the_pinned_package() -> None:
    """The script injected is node_modules' axe-core at the version package.json pins."""
    pinned = json.loads((AXE.parents[2] / "package.json").read_text())["devDependencies"]
    installed = json.loads((AXE.parent / "package.json").read_text())["version"]
    assert pinned["axe-core"] == installed


def test_axe_admin_pages(browser: Any, a11y: A11yWorld) -> None:
    """The pages only an organisation's admin sees (the e-mail settings), at both widths."""
    failures: list[str] = []
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        ctx = _context(browser, a11y, viewport, "en-GB", axe=True)
        try:
            page = ctx.new_page()
            sign_in(page, a11y.world.keys["admin"])
            for name, path in (("smtp", "/ui/settings/smtp"),):
                _goto(page, name, path)
                bad = [v for v in _axe(page) if v["impact"] in BLOCKING]
                if bad:
                    failures.append(_readable(f"{name} [{width}]", path, bad))
                widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                if widths[0] > widths[1]:
                    failures.append(f"{name} ({path}): scrolls sideways at {width} width")
                _shot(page, f"{width}-{name}")
        finally:
            ctx.close()
    assert not failures, "\n".join(failures)
