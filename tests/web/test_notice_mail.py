"""A notice sent by e-mail from the web UI: through a real `rempart serve` in Chromium, to a
real SMTP server on loopback (aiosmtpd, STARTTLS under a certificate made by the test,
trusted by the server through SSL_CERT_FILE). The page previews the message as it leaves,
the Send button needs the session's CSRF token, the sending is recorded with the Message-ID
the server received; a web-form platform gets its form's address; the SMTP settings page is
for admins, and the password is write-only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.api.conftest import Server, World
from tests.cases.test_mailer import FROM, PASSWORD, USER, SmtpLab, make_notice, running_lab
from tests.web.conftest import Shots, sign_in

from rempart.cases import mail_settings
from rempart.store.db import Database


@dataclass
class MailWorld:
    world: World
    lab: SmtpLab
    server: Server
    korean: int  # a notice to report@example.kr, in Korean
    form: int  # a notice to X (a web form)


@pytest.fixture(scope="module")
def mail_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailWorld]:
    from rempart.api import keys

    root = tmp_path_factory.mktemp("notice-mail")
    world = World(root, f"sqlite:///{root / 'rempart.db'}", root / "home")
    with running_lab(root) as lab:
        db = Database(world.db_url)
        with db.session() as s:
            for name, role, tenant in (
                ("admin", "admin", None),
                ("ca", "caseworker", "org-a"),
                ("cb", "caseworker", "org-b"),
            ):
                key, info = keys.create_key(s, role, tenant, label=name)
                world.keys[name] = key
        korean = make_notice(db, "C-WEB", "example-kr", "ko", tenant="org-a")
        form = make_notice(db, "C-WEB-X", "x", "en", tenant="org-a")
        mail_settings.set_settings(
            db,
            world.home,
            organisation="org-a",
            host="127.0.0.1",
            port=lab.port,
            username=USER,
            password=PASSWORD,
            from_address=FROM,
        )
        db.dispose()
        server = Server(world, REMPART_WEB_COOKIE_SECURE="0", SSL_CERT_FILE=str(lab.cert))
        try:
            yield MailWorld(world, lab, server, korean, form)
        finally:
            server.stop()


def _context(browser: Any, mw: MailWorld, locale: str = "en-GB") -> Any:
    ctx = browser.new_context(
        base_url=mw.server.url, viewport={"width": 1200, "height": 900}, locale=locale
    )
    ctx.set_default_timeout(15_000)
    return ctx


def test_send_from_the_notice_page(browser: Any, mail_world: MailWorld, shots: Shots) -> None:
    mw, inbox = mail_world, mail_world.lab.inbox
    ctx = _context(browser, mw)
    try:
        page = ctx.new_page()
        sign_in(page, mw.world.keys["ca"])
        page.goto(f"/ui/notices/{mw.korean}")
        shown = page.inner_text("#mail-preview")
        assert "To: report@example.kr" in shown and f"From: {FROM}" in shown
        assert "Subject: 삭제 요청: 비동의 친밀 영상물 (사건 C-WEB)" in shown
        assert "Message-ID: <notice-" in shown and PASSWORD not in page.content()
        # Without the session's CSRF token (the cookie is sent): 403, nothing sent.
        response = page.request.post(f"/ui/notices/{mw.korean}/send", form={"x": "1"})
        assert response.status == 403 and inbox.messages == []
        page.click("#mail-send")
        page.wait_for_selector("#mail-sent")
        assert page.inner_text("#notice-status") == "sent"
        shots(page, "sent")
        assert page.locator("#mail-send").count() == 0  # no second click
        (got,) = inbox.messages
        msg = got.message
        assert got.rcpt_tos == ["report@example.kr"] and msg["From"] == FROM
        assert str(msg["Message-ID"]) in page.inner_text("#mail-sent")
        body = msg.get_content().replace("\r\n", "\n")
        assert body.rstrip("\n") in shown and "상담 기관" in body  # what was shown, intact
        # A web-form platform: the form's address to copy the letter into, no Send button.
        page.goto(f"/ui/notices/{mw.form}")
        link = page.get_attribute("#mail-form-url", "href")
        assert link == "https://help.x.com/forms/report-intimate-media"
        assert page.locator("#mail-send").count() == 0
        # Caseworkers do not see the SMTP settings.
        response = page.goto("/ui/settings/smtp")
        assert response is not None and response.status == 403
    finally:
        ctx.close()
    # Another organisation's caseworker does not see the notice.
    ctx = _context(browser, mw)
    try:
        page = ctx.new_page()
        sign_in(page, mw.world.keys["cb"])
        response = page.goto(f"/ui/notices/{mw.korean}")
        assert response is not None and response.status == 404
    finally:
        ctx.close()
    with sqlite3.connect(mw.world.root / "rempart.db") as con:
        actions = con.execute("SELECT action, actor FROM audit_log").fetchall()
    assert any(a == "notice-email" and actor.startswith("web:org-a:") for a, actor in actions)
    assert len(inbox.messages) == 1


def test_smtp_settings_page_for_admins(browser: Any, mail_world: MailWorld, shots: Shots) -> None:
    mw = mail_world
    ctx = _context(browser, mw, locale="fr-FR")
    try:
        page = ctx.new_page()
        sign_in(page, mw.world.keys["admin"])
        page.goto("/ui/settings/smtp")
        assert "SMTP" in page.inner_text("#smtp-title")
        page.fill("#smtp-host", "127.0.0.1")
        page.fill("#smtp-port", str(mw.lab.port))
        page.fill("#smtp-user", USER)
        page.fill("#smtp-password", PASSWORD)
        page.fill("#smtp-from", "Admin <admin@helpline.example>")
        page.click("#smtp-save")
        page.wait_for_selector("#smtp-message")
        assert page.input_value("#smtp-password") == "" and PASSWORD not in page.content()
        assert page.inner_text("#smtp-password-state") == "un mot de passe est gardé"
        page.click("#smtp-test")  # connects, STARTTLS verified, signs in, NOOP
        assert "250" in page.inner_text("#smtp-message")
        shots(page, "settings")
    finally:
        ctx.close()
    db = Database(mw.world.db_url)
    try:
        cfg = mail_settings.get_settings(db, "")
        assert cfg is not None and cfg.has_password and cfg.port == mw.lab.port
    finally:
        db.dispose()
    raw = b"".join(p.read_bytes() for p in mw.world.root.glob("rempart.db*"))
    assert PASSWORD.encode() not in raw
