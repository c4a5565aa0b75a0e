"""End to end in Debian's chromium: a caseworker signs in, opens her case, reviews the match
(blurred preview, one reveal, confirmed with a reason), downloads the evidence package,
writes and tracks a notice, switches to Korean and French, scans a folder and sees the scan
finish, opens the statistics; and what must be refused is refused."""

from __future__ import annotations

import io
import re
import time
import zipfile
from typing import Any

from PIL import Image
from sqlalchemy import select
from tests.api.conftest import Server, World
from tests.web.conftest import Shots, match_refs, sign_in

from rempart.cases.evidence import verify_package
from rempart.store.db import Database
from rempart.store.models import AuditEntry


def _audit_actions(world: World) -> list[tuple[str, str]]:
    db = Database(world.db_url)
    try:
        with db.session() as s:
            return [
                (a, b)
                for a, b in s.execute(
                    select(AuditEntry.action, AuditEntry.actor).order_by(AuditEntry.id)
                )
            ]
    finally:
        db.dispose()


def _png_is_blurred_grey(data: bytes) -> bool:
    img = Image.open(io.BytesIO(data))
    return img.mode == "L" and max(img.size) <= 320


def test_review_confirm_evidence_notice(
    context: Any, web_world: World, web_server: Server, shots: Shots, tmp_path: Any
) -> None:
    ref = match_refs(web_world)["CASE-A"]
    page = context.new_page()
    sign_in(page, web_world.keys["ca"])
    shots(page, "1-cases")
    assert page.locator("#cases").get_by_text("CASE-A").is_visible()
    assert page.locator("#cases").get_by_text("CASE-B").count() == 0  # org-b's case
    page.click("text=CASE-A")
    page.wait_for_url("**/ui/cases/CASE-A")
    assert page.locator("#case-title").inner_text() == "Case CASE-A"
    shots(page, "2-case")
    page.click(f"#case-matches >> text={ref}")
    page.wait_for_url(f"**/ui/matches/{ref}")
    # Blurred greyscale by default: the page's image is the blurred preview.
    src = page.get_attribute("#preview", "src")
    assert src == f"/ui/matches/{ref}/preview.png"
    blurred = page.request.get(src)
    assert blurred.ok and blurred.headers["content-type"] == "image/png"
    assert _png_is_blurred_grey(blurred.body())
    assert page.locator("#revealed").count() == 0
    shots(page, "3-match-blurred")
    reveals_before = sum(1 for a, _ in _audit_actions(web_world) if a == "reveal")
    page.click("#reveal")
    page.wait_for_selector("#revealed")
    assert page.get_attribute("#revealed", "src").startswith("data:image/png;base64,")
    assert page.locator("#preview").count() == 0
    shots(page, "4-match-revealed")
    actions = _audit_actions(web_world)
    assert sum(1 for a, _ in actions if a == "reveal") == reveals_before + 1
    assert ("reveal", f"web:org-a:{web_world.key_ids['ca']}") in actions
    # Confirm with a reason: a decision without one is refused by the browser form.
    page.check("#decision-confirmed")
    page.fill("#reason", "her photo, re-encoded")
    page.click("#decide")
    page.wait_for_selector("#saved")
    assert page.locator("#revealed").count() == 0  # the reveal was for that answer only
    assert "confirmed" in page.locator("#match-status").inner_text()
    shots(page, "5-match-confirmed")
    with page.expect_download() as info:
        page.click("#evidence")
    package = tmp_path / "evidence.zip"
    info.value.save_as(package)
    assert verify_package(package).ok
    assert "match.json" in zipfile.ZipFile(package).namelist()
    # A notice for the confirmed match, in French, then recorded as sent.
    page.click("#match-case")
    page.wait_for_url("**/ui/cases/CASE-A")
    page.select_option("#platform", "telegram")
    page.select_option("#language", "fr")
    page.click("#notice-create")
    page.wait_for_url(re.compile(r".*/ui/notices/\d+$"))
    letter = page.locator("#notice-text").inner_text()
    assert "CASE-A" in letter and "org-a" in letter  # sent by her organisation
    assert "2022/2065" in letter and "Objet" in letter  # the DSA, in French
    assert page.locator("#notice-status").inner_text() == "draft"
    shots(page, "6-notice-draft")
    page.select_option("#status", "sent")
    page.click("#mark")
    page.wait_for_selector("#notice-status:text-is('sent')")
    assert "due again" in page.content()
    page.click("#nav-notices")
    row = page.locator("#notices tbody tr").first
    assert "sent" in row.inner_text() and "CASE-A" in row.inner_text()
    shots(page, "7-notices")
    names = {a for a, who in _audit_actions(web_world) if who.startswith("web:org-a:")}
    assert {
        "web-sign-in",
        "reveal",
        "review",
        "evidence-export",
        "notice-create",
        "notice-status",
    } <= names


def test_languages(context: Any, web_world: World, shots: Shots) -> None:
    page = context.new_page()
    sign_in(page, web_world.keys["ca"])
    assert page.locator("#nav-review").inner_text() == "Review queue"
    page.click("#lang-ko")
    page.wait_for_selector("html[lang=ko]", state="attached")
    assert page.locator("h1").inner_text() == "사건 목록"
    assert page.locator("#nav-review").inner_text() == "검토 대기열"
    page.click("#nav-review")
    assert page.locator("h1").inner_text() == "검토 대기열"
    shots(page, "ko-review")
    page.click("#lang-fr")
    page.wait_for_selector("html[lang=fr]", state="attached")
    assert page.url.endswith("/ui/review")  # stays on the page
    assert page.locator("h1").inner_text() == "Correspondances à examiner"
    assert page.locator("#nav-cases").inner_text() == "Dossiers"
    shots(page, "fr-review")
    page.reload()  # kept in the session
    assert page.locator("#nav-cases").inner_text() == "Dossiers"


def test_scan_progress_to_the_end(context: Any, web_world: World, shots: Shots) -> None:
    page = context.new_page()
    sign_in(page, web_world.keys["ca"])
    page.click("#nav-scans")
    page.select_option("#folder", "batch-1")
    page.check("input[name=bank][value=ncii]")
    seen: list[str] = []  # the scan's state in each progress answer the page polled
    page.on(
        "response",
        lambda r: seen.append(r.json()["state"]) if r.url.endswith("/progress") and r.ok else None,
    )
    start = time.monotonic()
    page.click("#scan-start")
    page.wait_for_url(re.compile(r".*/ui/scans/[A-Za-z0-9_-]+$"))
    first = page.get_attribute("#scan-state", "data-state")
    shots(page, "running")
    page.wait_for_selector("#scan-state[data-state=finished]", timeout=60_000)
    seconds = time.monotonic() - start
    assert seconds < 60
    # The page followed the scan while it ran (the script's polling), up to the end.
    assert first in ("queued", "running"), first
    assert len(seen) >= 2 and seen[-1] == "finished" and "running" in seen, seen
    assert page.locator("#scan-count").inner_text() == "47 / 47"
    assert page.get_attribute("#scan-bar", "value") == page.get_attribute("#scan-bar", "max")
    assert page.locator("#scan-matches").inner_text() == "1"  # the copy of CASE-A's photo 2
    assert page.locator("#scan-result").is_visible()
    assert page.locator("#scan-state").inner_text() == "finished"
    shots(page, "finished")
    page.click("#scan-result >> text=Review queue")
    assert page.locator("#review-queue li").count() >= 1


def test_statistics_chart(context: Any, web_world: World, shots: Shots) -> None:
    page = context.new_page()
    sign_in(page, web_world.keys["ca"])
    page.click("#nav-stats")
    for chart in ("#chart-matches", "#chart-platforms"):
        assert page.get_attribute(chart, "src").startswith("data:image/png;base64,")
        width = page.evaluate(f"document.querySelector('{chart}').naturalWidth")
        assert width > 300  # a real picture was decoded
    shots(page, "charts")


def test_refusals(context: Any, web_world: World, web_server: Server, shots: Shots) -> None:
    refs = match_refs(web_world)
    page = context.new_page()
    # No session: the sign-in page, and back to the page asked for after signing in.
    page.goto("/ui/cases/CASE-A")
    page.wait_for_url("**/ui/login?next=*")
    assert page.locator("#key").is_visible()
    shots(page, "login")
    page.fill("#key", "rmp_00000000_" + "x" * 43)
    page.click("#login-submit")
    assert page.locator("#login-error").is_visible()
    page.fill("#key", web_world.keys["pa"])  # a platform's key may not use the UI
    page.click("#login-submit")
    assert page.locator("#login-error").is_visible()
    page.fill("#key", web_world.keys["ca"])
    page.click("#login-submit")
    page.wait_for_url("**/ui/cases/CASE-A")
    # Another organisation's case and match: not found, as through the API.
    for path in (
        "/ui/cases/CASE-B",
        f"/ui/matches/{refs['CASE-B']}",
        f"/ui/matches/{refs['CASE-B']}/preview.png",
    ):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
    shots(page, "other-tenant-404")
    # A POST without the CSRF token (the session cookie is sent): 403, nothing recorded.
    response = page.request.post(
        f"/ui/matches/{refs['CASE-A']}/decide", form={"decision": "not-her", "reason": "forged"}
    )
    assert response.status == 403
    response = page.request.post(
        f"/ui/matches/{refs['CASE-A']}/reveal", form={"csrf": "not-the-token"}
    )
    assert response.status == 403
    assert not any(who == "forged" for _, who in _audit_actions(web_world))
    # The cookie: HttpOnly, SameSite=Strict (Secure is off only for this plain-http test).
    cookie = next(c for c in context.cookies() if c["name"] == "rempart_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""
    # Signing out ends the session.
    page.goto("/ui/")
    page.click("#logout")
    page.wait_for_url("**/ui/login")
    page.goto("/ui/review")
    page.wait_for_url("**/ui/login?next=*")
