"""Notices sent by e-mail (rempart.cases.mailer; the letter: mail_letter; the settings and
the sealed password: mail_settings) against a real SMTP server on loopback
(aiosmtpd with STARTTLS under a certificate made here, and AUTH): the message received is
checked headers and all, in each language; failures mark nothing sent; a web-form platform
gets nothing sent; the password is never in the database in clear."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from typer.testing import CliRunner

from rempart.cases import mail_letter, mail_settings, mailer, notices
from rempart.cli import app
from rempart.errors import InvalidInput, Refused, SetupError
from rempart.ops import keys
from rempart.store.db import Database
from rempart.store.models import Case, CaseOwner, Consent, Notice, Tenant, utcnow

USER, PASSWORD = "helpline", "s3cret-Pa55-ünïcode"
FROM = "Helpline X <notices@helpline.example>"
runner = CliRunner()


# ---- a real SMTP server -----------------------------------------------------------------


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (EC P-256: quick to make)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rempart test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Inbox:
    """What the server received, and who signed in."""

    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 2.0.0 queued as test-42"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False)  # handled=False: the server says 535


@dataclass
class SmtpLab:
    cert: Path
    port: int  # STARTTLS + AUTH
    tls_port: int  # TLS from the start + AUTH
    inbox: Inbox


@contextmanager
def running_lab(folder: Path) -> Iterator[SmtpLab]:
    """Two aiosmtpd servers on loopback with AUTH under a certificate made here: one with
    STARTTLS (required before AUTH), one with TLS from the start."""
    import ssl

    cert, key = make_cert(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    common: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "authenticator": inbox.authenticate,
        "auth_require_tls": True,
        "ready_timeout": 10.0,
    }
    starttls = Controller(
        inbox, port=free_port(), tls_context=context, require_starttls=True, **common
    )
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls: this one is TLS throughout
    implicit = Controller(
        inbox, port=free_port(), ssl_context=context, **{**common, "auth_require_tls": False}
    )
    starttls.start()
    implicit.start()
    try:
        yield SmtpLab(cert, starttls.port, implicit.port, inbox)
    finally:
        starttls.stop()
        implicit.stop()


@pytest.fixture(scope="module")
def smtp_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpLab]:
    with running_lab(tmp_path_factory.mktemp("smtp")) as lab:
        yield lab


@pytest.fixture
def lab(smtp_lab: SmtpLab, monkeypatch: pytest.MonkeyPatch) -> SmtpLab:
    """The server, trusted through SSL_CERT_FILE (Python's standard variable), its inbox
    emptied."""
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp_lab.cert))
    smtp_lab.inbox.messages.clear()
    smtp_lab.inbox.logins.clear()
    return smtp_lab


# ---- notices ----------------------------------------------------------------------------


def make_notice(
    db: Database, number: str, platform: str, language: str, tenant: str | None = None
) -> int:
    """A draft notice of a case with a consent record, its letter made from the bundled
    template and phrases of its language (as notices.create writes it)."""
    data = notices.load_data(None)
    pdata = data.platforms[platform]
    template = notices._template(data, language)
    words = notices._phrases(data, language)
    with db.session() as s:
        case = Case(number=number)
        s.add(case)
        s.flush()
        s.add(
            Consent(
                case_id=case.id,
                given_by="Test Person",
                given_at=utcnow(),
                purpose="find and remove copies of my images",
            )
        )
        if tenant:
            org = s.scalar(select(Tenant).where(Tenant.name == tenant))
            if org is None:
                org = Tenant(name=tenant, kind="organisation")
                s.add(org)
                s.flush()
            s.add(CaseOwner(case_id=case.id, tenant_id=org.id))
        where = notices._say(
            words,
            "telegram",
            chat="방 A",
            chat_id=555,
            message_id=2,
            date="2026-11-20",
            sender="someone",
        )
        n = Notice(
            case_id=case.id,
            platform=platform,
            language=language,
            jurisdictions=list(pdata.get("jurisdictions", [])),
            items=[{"match": "m1", "location": where, "place": "tg:555:2", "file": "x"}],
            text="",
            status="draft",
        )
        s.add(n)
        s.flush()
        n.text = string.Template(template.template).safe_substitute(
            platform=pdata["name"],
            contact=pdata["contact"],
            case=number,
            organisation=words["organisation"],
            laws="- " + data.laws[pdata["jurisdictions"][0]][language],
            count=1,
            items=notices._say(
                words,
                "item",
                n=1,
                location=where,
                ref="m1",
                method=words["method_pdq"],
                organisation=words["organisation"],
                date="2026-11-21",
            ),
            consent=notices._say(words, "consent", date="2026-11-01"),
            notice_id=f"N-{n.id}",
            deadline="",
        )
        return n.id


def status_of(db: Database, notice_id: int) -> tuple[str, int]:
    with db.session() as s:
        n = s.get(Notice, notice_id)
        assert n is not None
        return n.status, n.times_sent


@pytest.fixture
def db(rempart_env: Path) -> Iterator[Database]:
    import os

    database = Database(os.environ["REMPART_DB"])
    yield database
    database.dispose()


def home() -> Path:
    import os

    return Path(os.environ["REMPART_HOME"])


def configure(
    db: Database, port: int, security: str = "starttls", password: str = PASSWORD
) -> None:
    mail_settings.set_settings(
        db,
        home(),
        host="127.0.0.1",
        port=port,
        security=security,
        username=USER,
        password=password,
        from_address=FROM,
        reply_to="cases@helpline.example",
        actor="test",
    )


# ---- tests ------------------------------------------------------------------------------


SUBJECTS = {
    "en": "Removal request: non-consensual intimate images (case C-en)",
    "fr": "Demande de retrait : images intimes diffusées sans consentement (dossier C-fr)",
    "ko": "삭제 요청: 비동의 친밀 영상물 (사건 C-ko)",
}


def test_sent_in_each_language_headers_and_all(lab: SmtpLab, db: Database) -> None:
    configure(db, lab.port)
    for language, platform, to in (
        ("en", "telegram", "abuse@telegram.org"),
        ("fr", "example-fr", "abus@exemple.fr"),
        ("ko", "example-kr", "report@example.kr"),
    ):
        notice_id = make_notice(db, f"C-{language}", platform, language)
        preview = mail_letter.build(db, home(), notice_id)
        assert preview.by_email and preview.recipient == to
        result = mailer.send(db, home(), notice_id, actor="test", preview=preview)
        assert result.sent and result.answer == "250 2.0.0 queued as test-42"
        got = lab.inbox.messages[-1]
        assert got.mail_from == "notices@helpline.example" and got.rcpt_tos == [to]
        msg = got.message
        assert msg["From"] == FROM and msg["To"] == to
        assert msg["Reply-To"] == "cases@helpline.example"
        assert msg["Subject"] == SUBJECTS[language] == preview.subject
        assert msg["Content-Language"] == language and msg["Date"]
        assert msg["Message-ID"] == result.message_id
        assert str(msg["Message-ID"]).endswith("@helpline.example>")
        (sent,) = mailer.sendings(db, notice_id)
        assert sent["message_id"] == msg["Message-ID"] and sent["recipient"] == to
        assert sent["answer"].startswith("250")
        assert not msg.is_multipart() and msg.get_content_type() == "text/plain"
        assert msg.get_content_charset() == "utf-8"
        body = msg.get_content().replace("\r\n", "\n")  # lines end in CRLF on the wire
        assert body.rstrip("\n") == preview.body  # what was shown is what left
        assert preview.body in preview.text and "Subject" not in body
        assert f"N-{notice_id}" in body and "m1" in body
        assert "Test Person" not in got.data.decode("ascii")  # her name: never unless chosen
        assert str(home()) not in body and "/tmp" not in body  # no local path
        assert status_of(db, notice_id) == ("sent", 1)
    assert "방 A" in body and "상담 기관" in body  # Korean intact (the last one)
    assert lab.inbox.logins == [USER] * 3


def test_tls_from_the_start(lab: SmtpLab, db: Database) -> None:
    configure(db, lab.tls_port, security="tls")
    notice_id = make_notice(db, "C-tls", "telegram", "en")
    assert mailer.check_server(db, home()).startswith("250")
    result = mailer.send(db, home(), notice_id)
    assert result.sent and lab.inbox.messages[-1].message["Message-ID"] == result.message_id
    with pytest.raises(Refused, match="not sent twice"):  # a second click
        mailer.send(db, home(), notice_id)
    again = mailer.send(db, home(), notice_id, again=True)
    assert again.sent and again.message_id != result.message_id
    assert status_of(db, notice_id) == ("sent", 2) and len(lab.inbox.messages) == 2


def test_failures_mark_nothing_sent(
    lab: SmtpLab, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    notice_id = make_notice(db, "C-fail", "telegram", "en")
    configure(db, lab.port, password="wrong")
    with pytest.raises(mailer.MailError, match="refused the user name or password"):
        mailer.send(db, home(), notice_id)
    configure(db, free_port())  # nothing listens there
    with pytest.raises(mailer.MailError, match="cannot reach the SMTP server 127.0.0.1"):
        mailer.send(db, home(), notice_id)
    with socket.socket() as silent:  # accepts, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        configure(db, silent.getsockname()[1])
        with pytest.raises(mailer.MailError, match="did not answer within 0.5 s"):
            mailer.send(db, home(), notice_id, timeout=0.5)
    configure(db, lab.port)
    monkeypatch.delenv("SSL_CERT_FILE")  # the self-signed certificate is not trusted
    with pytest.raises(mailer.MailError, match="could not be verified"):
        mailer.send(db, home(), notice_id)
    assert status_of(db, notice_id) == ("draft", 0)
    assert mailer.sendings(db, notice_id) == [] and lab.inbox.messages == []
    assert lab.inbox.logins == []  # no password went to an unverified server


def test_web_form_platform_gets_no_mail(lab: SmtpLab, db: Database) -> None:
    configure(db, lab.port)
    notice_id = make_notice(db, "C-x", "x", "en")
    preview = mail_letter.build(db, home(), notice_id)
    assert not preview.by_email
    assert preview.form_url == "https://help.x.com/forms/report-intimate-media"
    result = mailer.send(db, home(), notice_id)
    assert not result.sent and result.form_url == preview.form_url
    assert result.text is not None and "Removal request" in result.text
    assert lab.inbox.messages == [] and status_of(db, notice_id) == ("draft", 0)


def test_password_encrypted_per_organisation_never_in_clear(lab: SmtpLab, db: Database) -> None:
    configure(db, lab.port)
    mail_settings.set_settings(
        db,
        home(),
        organisation="org-a",
        host="127.0.0.1",
        port=lab.port,
        username=USER,
        password=PASSWORD,
        from_address="org-a <n@org-a.example>",
    )
    shown = mail_settings.get_settings(db, "org-a")
    assert shown is not None and shown.has_password and "password" not in shown.as_dict()
    notice_id = make_notice(db, "C-org", "telegram", "en", tenant="org-a")
    result = mailer.send(db, home(), notice_id)
    assert result.sent and lab.inbox.messages[-1].message["From"] == "org-a <n@org-a.example>"
    db.dispose()
    raw = b"".join(p.read_bytes() for p in home().parent.glob("rempart.db*"))
    assert raw and PASSWORD.encode() not in raw and b"s3cret" not in raw
    key = mail_settings.key_path(home())
    assert key.stat().st_mode & 0o777 == 0o600
    (listed,) = [k for k in keys.status(home(), None) if k.name == "mail"]
    assert listed.exists and listed.mode == "600" and listed.problem is None
    key.chmod(0o644)  # loose: refused, nothing sent
    with pytest.raises(SetupError, match="readable by other users"):
        mailer.send(db, home(), make_notice(db, "C-org2", "telegram", "en", tenant="org-a"))
    key.chmod(0o600)
    with pytest.raises(InvalidInput, match="never sent without TLS"):
        mail_settings.set_settings(
            db, home(), host="h.example", security="none", password="x", from_address=FROM
        )
    with pytest.raises(InvalidInput, match="From address"):
        mail_settings.set_settings(db, home(), host="h.example", from_address="not an address")


def rempart(*args: str, code: int = 0, stdin: str | None = None) -> str:
    result = runner.invoke(
        app, list(args), env={"COLUMNS": "300", "REMPART_USER": "cw"}, input=stdin
    )
    assert result.exit_code == code, result.output
    return result.output


def test_cli_set_show_test_preview_send(lab: SmtpLab, db: Database, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    rempart(
        "notice", "smtp", "set", "--host", "127.0.0.1", "--port", str(lab.port),
        "--user", USER, "--password-file", str(secret), "--from", FROM,
    )  # fmt: skip
    shown = rempart("notice", "smtp", "show")
    assert "kept (encrypted)" in shown and PASSWORD not in shown
    assert json.loads(rempart("notice", "smtp", "show", "--json"))["has_password"] is True
    assert "250" in rempart("notice", "smtp", "test")
    notice_id = make_notice(db, "C-cli", "example-kr", "ko")
    preview = rempart("notice", "preview", str(notice_id))
    assert f"Subject: {SUBJECTS['ko'].replace('C-ko', 'C-cli')}" in preview
    assert "To: report@example.kr" in preview and "Message-ID: <" in preview
    assert "not sent" in rempart("notice", "send", str(notice_id), code=1, stdin="n\n")
    assert lab.inbox.messages == []
    sent = json.loads(rempart("notice", "send", str(notice_id), "--yes", "--json"))
    assert sent["sent"] and sent["message_id"] == lab.inbox.messages[-1].message["Message-ID"]
    assert status_of(db, notice_id) == ("sent", 1)
    form = make_notice(db, "C-cli-x", "x", "en")
    out = rempart("notice", "send", str(form), "--yes", code=1)
    assert "web form" in out and "https://help.x.com/forms/report-intimate-media" in out
    assert status_of(db, form) == ("draft", 0)
