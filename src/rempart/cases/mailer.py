"""Takedown notices sent by e-mail, from the organisation's own SMTP server.

Why: a caseworker writes dozens of notices a week and re-sends them every 24 hours until the
content is gone; copying each letter into a mail program loses the record of what left,
when, to whom and what the server said. Here the message `mail_letter.build` makes leaves
through the server of the organisation's settings (mail_settings.py), and the sending is
recorded (Message-ID, time, recipient, the server's answer) before the notice is marked sent
(audited, notices.mark). A failure (refused, timeout, wrong password, a certificate that
does not verify) is a clear MailError and nothing is marked sent. A platform that takes
notices through a web form gets no e-mail: the letter's text and the form's address are
returned to copy.

TLS (STARTTLS or TLS from the start) always verifies the server's certificate against the
system's authorities (or the file named by SSL_CERT_FILE, Python's standard variable); a
password is never sent over a connection without TLS.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.policy import SMTP as SMTP_POLICY
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rempart.cases import mail_settings, notices
from rempart.cases.mail_letter import Preview, build
from rempart.errors import InvalidInput, NotFound, Refused, SetupError, Unavailable
from rempart.store import audit, repository
from rempart.store.db import Database
from rempart.store.models import Notice, NoticeSending, SmtpSetting, utcnow

TIMEOUT = 30.0  # seconds for each exchange with the server
RESEND_GUARD = timedelta(minutes=10)  # a second send this soon is a second click


class MailError(Unavailable):
    """The message did not leave: the server refused it, did not answer, refused the
    password or its certificate; nothing is marked sent."""


# ---- sending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """What `send` did: sent (message id, recipient, the server's answer), or not by
    e-mail (`form_url`: the letter to copy into the platform's form)."""

    notice_id: int
    sent: bool
    recipient: str | None = None
    message_id: str | None = None
    answer: str | None = None
    sent_at: datetime | None = None
    form_url: str | None = None
    text: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notice"] = f"N-{self.notice_id}"
        d["sent_at"] = self.sent_at.isoformat() if self.sent_at else None
        return d


def _connect(row: SmtpSetting, home: Path, timeout: float) -> smtplib.SMTP:
    """A connection, TLS verified and signed in, or MailError saying what failed."""
    where = f"{row.host}:{row.port}"
    context = ssl.create_default_context()  # verifies the certificate and the host name
    smtp: smtplib.SMTP | None = None
    try:
        if row.security == "tls":
            smtp = smtplib.SMTP_SSL(row.host, row.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(row.host, row.port, timeout=timeout)
        smtp.ehlo()
        if row.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise MailError(f"the SMTP server {where} does not offer STARTTLS")
            smtp.starttls(context=context)
            smtp.ehlo()
        if row.username or row.password_enc is not None:
            if row.security == "none":
                raise MailError("a password is never sent without TLS: use starttls or tls")
            password = (
                mail_settings.open_password(home, row.organisation, row.password_enc)
                if row.password_enc
                else ""
            )
            _login(smtp, row.username, password)
        return smtp
    except BaseException as exc:
        if smtp is not None:
            _close(smtp)
        if isinstance(exc, MailError | SetupError):
            raise
        if isinstance(exc, Exception):
            raise _mail_error(exc, where, timeout) from exc
        raise


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Sign in: AUTH PLAIN with UTF-8 credentials (RFC 4616) when the server offers it (one
    exchange; smtplib's own encodes ASCII only), else smtplib's mechanisms."""
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        if not (user + password).isascii():
            raise MailError(
                "the password has non-ASCII characters and the server does not offer AUTH PLAIN"
            )
        smtp.login(user, password)
        return
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    code, answer = smtp.docmd("AUTH", "PLAIN " + token)
    if code not in (235, 503):  # 503: already signed in
        raise smtplib.SMTPAuthenticationError(code, answer)


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def _mail_error(exc: Exception, where: str, timeout: float) -> MailError:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        answer = _text(exc.smtp_error)
        return MailError(
            f"the SMTP server {where} refused the user name or password "
            f"({exc.smtp_code} {answer}): check them (rempart notice smtp set)"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailError(f"the SMTP server {where} does not support this: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        answer = _text(exc.smtp_error)
        return MailError(f"the SMTP server {where} refused: {exc.smtp_code} {answer}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailError(
            f"the certificate of the SMTP server {where} could not be verified "
            f"({exc.verify_message}): nothing was sent"
        )
    if isinstance(exc, ssl.SSLError):
        return MailError(f"TLS with the SMTP server {where} failed ({exc.reason or exc})")
    if isinstance(exc, TimeoutError | socket.timeout) or (
        # smtplib reports a read that timed out as a closed connection
        isinstance(exc, smtplib.SMTPServerDisconnected)
        and (isinstance(exc.__context__, TimeoutError) or "timed out" in str(exc))
    ):
        return MailError(f"the SMTP server {where} did not answer within {timeout:g} s")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailError(f"the SMTP server {where} closed the connection ({exc})")
    if isinstance(exc, OSError):
        return MailError(f"cannot reach the SMTP server {where}: {exc.strerror or exc}")
    if isinstance(exc, smtplib.SMTPException):
        return MailError(f"the SMTP server {where}: {exc}")
    return MailError(f"sending through {where} failed: {exc}")


def check_server(
    db: Database, home: Path, organisation: str = "", *, timeout: float = TIMEOUT
) -> str:
    """Connect, verify TLS, sign in and say NOOP (`rempart notice smtp test`): the server's
    answer, or MailError saying what failed. Sends nothing."""
    row, _ = mail_settings.settings_row(db, organisation)
    smtp = _connect(row, home, timeout)
    try:
        code, answer = smtp.noop()
    except (smtplib.SMTPException, OSError) as exc:
        raise _mail_error(exc, f"{row.host}:{row.port}", timeout) from exc
    finally:
        _close(smtp)
    return f"{code} {answer.decode(errors='replace')}"


def send(
    db: Database,
    home: Path,
    notice_id: int,
    *,
    actor: str = "",
    preview: Preview | None = None,
    timeout: float = TIMEOUT,
    again: bool = False,
) -> SendResult:
    """Send a notice by e-mail (the message `build` makes, or the `preview` shown): record
    the sending and mark the notice sent (both audited). A web-form platform gets nothing
    sent: the result carries the letter and the form's address to copy. MailError when the
    server refuses, does not answer or refuses the password; nothing is marked sent.
    Refused when it left by e-mail less than RESEND_GUARD ago (a second click), unless
    `again`."""
    p = preview if preview is not None and preview.notice_id == notice_id else None
    p = p or build(db, home, notice_id)
    if p.message is None or p.recipient is None:
        return SendResult(notice_id, False, form_url=p.form_url, text=p.text)
    with db.session() as s:
        n = s.get(Notice, notice_id)
        if n is None:
            raise NotFound(f"no notice N-{notice_id}")
        if n.status in ("removed", "refused"):
            raise Refused(f"notice N-{notice_id} is {n.status}: nothing to send again")
        last = s.scalar(
            select(NoticeSending.sent_at)
            .where(NoticeSending.notice_id == notice_id)
            .order_by(NoticeSending.id.desc())
            .limit(1)
        )
    if last is not None and not again:
        last = _aware(last)
        if utcnow() - last < RESEND_GUARD:
            raise Refused(
                f"notice N-{notice_id} left by e-mail at {last:%Y-%m-%d %H:%M} UTC, minutes "
                "ago: not sent twice (rempart notice send --again sends it anyway)"
            )
    row, _ = mail_settings.settings_row(db, p.organisation)
    where = f"{row.host}:{row.port}"
    sender = parseaddr(row.from_address)[1]
    smtp = _connect(row, home, timeout)
    try:
        code, answer = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, answer, sender)
        code, answer = smtp.rcpt(p.recipient)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({p.recipient: (code, answer)})
        code, answer = smtp.data(p.message.as_bytes(policy=SMTP_POLICY))
        if code != 250:
            raise smtplib.SMTPDataError(code, answer)
    except smtplib.SMTPRecipientsRefused as exc:
        (rcode, ranswer) = next(iter(exc.recipients.values()))
        raise MailError(
            f"the SMTP server {where} refused the recipient {p.recipient}: {rcode} {_text(ranswer)}"
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise _mail_error(exc, where, timeout) from exc
    finally:
        _close(smtp)
    said = f"{code} {answer.decode(errors='replace')}"
    message_id = str(p.message["Message-ID"])
    when = utcnow()
    with db.session() as s:
        s.add(
            NoticeSending(
                notice_id=notice_id,
                message_id=message_id,
                sent_at=when,
                recipient=p.recipient,
                smtp_answer=said,
                actor=actor or audit.current_actor(),
            )
        )
        n = s.get(Notice, notice_id)
        case_number = repository.case_number(s, n.case_id) if n is not None else None
        audit.record(
            s,
            "notice-email",
            actor=actor or None,
            case=case_number,
            details={
                "notice": notice_id,
                "to": p.recipient,
                "message_id": message_id,
                "server": where,
                "answer": said[:200],
            },
        )
    notices.mark(db, notice_id, "sent", at=when)
    return SendResult(
        notice_id, True, recipient=p.recipient, message_id=message_id, answer=said, sent_at=when
    )


def sendings(db: Database, notice_id: int) -> list[dict[str, Any]]:
    """The e-mails a notice left by, oldest first."""
    with db.session() as s:
        rows = s.scalars(
            select(NoticeSending)
            .where(NoticeSending.notice_id == notice_id)
            .order_by(NoticeSending.id)
        )
        return [
            {
                "message_id": r.message_id,
                "sent_at": r.sent_at.isoformat(),
                "recipient": r.recipient,
                "answer": r.smtp_answer,
                "actor": r.actor,
            }
            for r in rows
        ]


@dataclass(frozen=True)
class MailView:
    """What a notice's page shows about e-mail: the message as it will leave (or the form to
    copy the letter into), why it cannot leave yet (`problem`), and the e-mails sent."""

    preview: Preview | None
    problem: str | None
    sent: list[dict[str, Any]]
    recent: bool = False  # it left less than RESEND_GUARD ago: no Send button


def view(db: Database, home: Path, notice_id: int) -> MailView:
    try:
        preview: Preview | None = build(db, home, notice_id)
        problem = None
    except (Refused, InvalidInput) as exc:
        preview, problem = None, str(exc)
    sent = sendings(db, notice_id)
    recent = bool(sent) and (
        utcnow() - _aware(datetime.fromisoformat(sent[-1]["sent_at"])) < RESEND_GUARD
    )
    return MailView(preview, problem, sent, recent)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
