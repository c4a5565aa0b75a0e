"""Takedown notices sent by e-mail, from the organisation's own SMTP server.

Why: a caseworker writes dozens of notices a week and re-sends them every 24 hours until the
content is gone; copying each letter into a mail program loses the record of what left,
when, to whom and what the server said. Here the notice leaves as the letter itself
(text/plain, UTF-8, in its language; never an attachment, never media, never her name
unless the letter already has it), and the sending is recorded (Message-ID, time,
recipient, the server's answer) before the notice is marked sent (audited, notices.mark).
A failure (refused, timeout, wrong password, a certificate that does not verify) is a clear
MailError and nothing is marked sent. A platform that takes notices through a web form gets
no e-mail: the letter's text and the form's address are returned to copy.

Settings: one row per organisation (a tenant's name, or "" for the instance's own: the
command line's), `smtp_settings`. The password is encrypted with AES-256-GCM under the mail
key, a file of its own beside the other keys (REMPART_HOME/keys/mail.key, 0600, created on
first use, refused when other users can read it), bound to its organisation (associated
data), so the database alone never gives it back; `rempart keys status` lists the key.
TLS (STARTTLS or TLS from the start) always verifies the server's certificate against the
system's authorities (or the file named by SSL_CERT_FILE, Python's standard variable); a
password is never sent over a connection without TLS.
"""

from __future__ import annotations

import base64
import secrets
import smtplib
import socket
import ssl
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from rempart import keyfile
from rempart.cases import notices
from rempart.errors import InvalidInput, NotFound, Refused, SetupError, Unavailable
from rempart.store import audit, repository
from rempart.store.db import Database
from rempart.store.models import CaseOwner, Notice, NoticeSending, SmtpSetting, Tenant, utcnow

KEY_FILE = "mail.key"
SECURITIES = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
TIMEOUT = 30.0  # seconds for each exchange with the server
RESEND_GUARD = timedelta(minutes=10)  # a second send this soon is a second click
# The header lines a letter template starts with (templates/<language>.txt): they become the
# message's headers, the rest is its body.
SUBJECT_NAMES = ("subject", "objet", "제목")
TO_NAMES = ("to", "à", "a", "받는 곳", "받는곳")


class MailError(Unavailable):
    """The message did not leave: the server refused it, did not answer, refused the
    password or its certificate; nothing is marked sent."""


# ---- the key ----------------------------------------------------------------------------


def key_path(home: Path) -> Path:
    return home / "keys" / KEY_FILE


_ADVICE = "and consider the SMTP password exposed: change it"


def _key(home: Path, *, create: bool) -> bytes:
    path = key_path(home)
    if not path.exists():
        if not create:
            raise SetupError(
                f"no mail key at {path}: the SMTP password cannot be read; put the key back "
                "from a backup, or set the password again (rempart notice smtp set)"
            )
        return keyfile.create_key(path, advice=_ADVICE)
    return keyfile.read_key(path, SetupError, _ADVICE)


def _aad(organisation: str) -> bytes:
    return f"rempart-smtp-password:{organisation}".encode()


def _seal(home: Path, organisation: str, password: str) -> bytes:
    nonce = secrets.token_bytes(12)
    aead = AESGCM(_key(home, create=True))
    return nonce + aead.encrypt(nonce, password.encode(), _aad(organisation))


def _open(home: Path, organisation: str, blob: bytes) -> str:
    try:
        plain = AESGCM(_key(home, create=False)).decrypt(blob[:12], blob[12:], _aad(organisation))
    except InvalidTag as exc:
        raise SetupError(
            f"the SMTP password of {organisation or 'this instance'} does not decrypt with "
            f"{key_path(home)} (another key, or altered data): set it again"
        ) from exc
    return plain.decode()


# ---- settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    """An organisation's SMTP settings as shown: never the password, only whether one is
    kept."""

    organisation: str
    host: str
    port: int
    security: str
    username: str
    has_password: bool
    from_address: str
    reply_to: str
    updated_by: str
    updated_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return d


def _config(row: SmtpSetting) -> SmtpConfig:
    return SmtpConfig(
        row.organisation,
        row.host,
        row.port,
        row.security,
        row.username,
        row.password_enc is not None,
        row.from_address,
        row.reply_to,
        row.updated_by,
        row.updated_at,
    )


def _address(value: str, what: str) -> str:
    """One e-mail address (with an optional display name), or InvalidInput naming it."""
    if any(c in value for c in "\r\n") or len(value) > 320:
        raise InvalidInput(f"{what}: not an e-mail address: {value!r}")
    found = getaddresses([value])
    if len(found) != 1 or "@" not in found[0][1] or " " in found[0][1]:
        raise InvalidInput(f"{what}: not an e-mail address: {value!r}")
    local, _, domain = found[0][1].rpartition("@")
    if not local or "." not in domain.strip("."):
        raise InvalidInput(f"{what}: not an e-mail address: {value!r}")
    return value.strip()


def get_settings(db: Database, organisation: str = "") -> SmtpConfig | None:
    with db.session() as s:
        row = s.scalar(select(SmtpSetting).where(SmtpSetting.organisation == organisation))
        return _config(row) if row is not None else None


def set_settings(
    db: Database,
    home: Path,
    *,
    organisation: str = "",
    host: str,
    port: int | None = None,
    security: str = "starttls",
    username: str = "",
    password: str | None = None,
    from_address: str,
    reply_to: str = "",
    actor: str = "",
) -> SmtpConfig:
    """Keep an organisation's SMTP settings (audited, never the password). `password`:
    None keeps the one kept, "" forgets it, anything else replaces it (encrypted)."""
    host = host.strip()
    if not host or any(c.isspace() or c in "/@" for c in host) or len(host) > 255:
        raise InvalidInput(f"SMTP host: not a host name: {host!r}")
    if security not in SECURITIES:
        raise InvalidInput(f"SMTP security must be one of {', '.join(SECURITIES)}")
    port = DEFAULT_PORTS[security] if port is None else port
    if not 0 < port < 65536:
        raise InvalidInput(f"SMTP port must be 1 to 65535, not {port}")
    sender = _address(from_address, "From address")
    reply = _address(reply_to, "Reply-To address") if reply_to.strip() else ""
    if any(c in username for c in "\r\n") or len(username) > 255:
        raise InvalidInput("SMTP user: one line of at most 255 characters")
    if password and security == "none":
        raise InvalidInput(
            "a password is never sent without TLS: choose --security starttls or tls"
        )
    with db.session() as s:
        row = s.scalar(select(SmtpSetting).where(SmtpSetting.organisation == organisation))
        if row is None:
            row = SmtpSetting(organisation=organisation)
            s.add(row)
        elif security == "none" and row.password_enc is not None and password is None:
            raise InvalidInput(
                "a password is kept and is never sent without TLS: choose starttls or tls, "
                "or forget the password (an empty one)"
            )
        row.host, row.port, row.security = host, port, security
        row.username, row.from_address, row.reply_to = username.strip(), sender, reply
        if password is not None:
            row.password_enc = _seal(home, organisation, password) if password else None
        row.updated_by, row.updated_at = actor or audit.current_actor(), utcnow()
        audit.record(
            s,
            "smtp-settings",
            actor=actor or None,
            details={
                "organisation": organisation,
                "host": host,
                "port": port,
                "security": security,
                "user": row.username,
                "from": sender,
                "password": "changed" if password else "forgotten" if password == "" else "kept",
            },
        )
        s.flush()
        return _config(row)


def organisation_of(db: Database, notice_id: int) -> str:
    """The organisation holding a notice's case (a tenant's name), or "" (the instance)."""
    with db.session() as s:
        name = s.scalar(
            select(Tenant.name)
            .join(CaseOwner, CaseOwner.tenant_id == Tenant.id)
            .join(Notice, Notice.case_id == CaseOwner.case_id)
            .where(Notice.id == notice_id)
        )
    return name or ""


def _settings_row(db: Database, organisation: str) -> tuple[SmtpSetting, str]:
    """The SMTP settings a notice of this organisation leaves by: its own, else the
    instance's; Refused naming the command that sets them."""
    with db.session() as s:
        for org in dict.fromkeys((organisation, "")):
            row = s.scalar(select(SmtpSetting).where(SmtpSetting.organisation == org))
            if row is not None:
                s.expunge(row)
                return row, org
    raise Refused(
        f"no SMTP settings for {organisation or 'this instance'}: set them first "
        "(rempart notice smtp set, or the web UI's e-mail settings)"
    )


# ---- the message ------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """A notice as it will leave: by e-mail (`recipient`, `headers`, `message`), or through
    the platform's web form (`form_url`: no message; `text` is the letter to copy)."""

    notice_id: int
    platform: str
    language: str
    subject: str
    body: str
    text: str  # the whole letter as written
    recipient: str | None = None
    form_url: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    message: EmailMessage | None = None
    organisation: str = ""

    @property
    def by_email(self) -> bool:
        return self.message is not None

    def as_text(self) -> str:
        """The exact message (headers decoded for reading, then the body), or the letter."""
        if self.message is None:
            return self.text
        return "\n".join(f"{k}: {v}" for k, v in self.headers) + "\n\n" + self.body

    def as_dict(self) -> dict[str, Any]:
        return {
            "notice": f"N-{self.notice_id}",
            "platform": self.platform,
            "language": self.language,
            "by_email": self.by_email,
            "recipient": self.recipient,
            "form_url": self.form_url,
            "subject": self.subject,
            "headers": dict(self.headers),
            "body": self.body,
            "text": self.text,
        }


def letter_parts(text: str) -> tuple[str | None, str | None, str]:
    """(To, Subject, body) of a letter: the template's first lines up to a blank line are
    header lines ("Subject:", "Objet :", "제목:"), the rest is the body."""
    head, sep, rest = text.partition("\n\n")
    lines = head.splitlines()
    found: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        key = name.strip().lower()
        if not colon or key not in SUBJECT_NAMES + TO_NAMES:
            return None, None, text.strip("\n")  # no header block: all body
        found["subject" if key in SUBJECT_NAMES else "to"] = value.strip()
    if not sep or "subject" not in found:
        return None, None, text.strip("\n")
    return found.get("to"), found["subject"], rest.strip("\n")


def _is_form(contact: str) -> bool:
    return contact.lower().startswith(("http://", "https://"))


def build(db: Database, home: Path, notice_id: int, *, now: datetime | None = None) -> Preview:
    """The notice as it will leave (see Preview). Refused when the platform has neither an
    e-mail address nor a form, or when no SMTP settings are kept for an e-mail."""
    with db.session() as s:
        n = s.get(Notice, notice_id)
        if n is None:
            raise NotFound(f"no notice N-{notice_id}")
        s.expunge(n)
    data = notices.load_data(home)
    pdata = data.platforms.get(n.platform, {})
    contact = str(pdata.get("contact", "")).strip()
    _, subject, body = letter_parts(n.text)
    subject = subject or f"N-{notice_id}"
    base = {
        "notice_id": notice_id,
        "platform": str(pdata.get("name", n.platform)),
        "language": n.language,
        "subject": subject,
        "body": body,
        "text": n.text,
    }
    if _is_form(contact):
        return Preview(**base, form_url=contact)  # type: ignore[arg-type]
    if not contact:
        raise Refused(
            f"{base['platform']} has no contact in {data.folder}/platforms.toml: "
            "add its e-mail address or form"
        )
    recipient = _address(contact, f"{base['platform']}'s contact in platforms.toml")
    organisation = organisation_of(db, notice_id)
    row, _ = _settings_row(db, organisation)
    sender_addr = parseaddr(row.from_address)[1]
    domain = sender_addr.rpartition("@")[2]
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = row.from_address
    msg["To"] = recipient
    if row.reply_to:
        msg["Reply-To"] = row.reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now or utcnow())
    # short (make_msgid's is long enough to be folded onto a second line)
    msg["Message-ID"] = f"<notice-{notice_id}.{secrets.token_hex(8)}@{domain}>"
    msg.set_content(body + "\n", charset="utf-8")
    msg["Content-Language"] = n.language  # after set_content, which clears content headers
    headers = [(k, str(v)) for k, v in msg.items() if k.lower() not in _TRANSPORT]
    return Preview(
        **base,  # type: ignore[arg-type]
        recipient=recipient,
        headers=headers,
        message=msg,
        organisation=organisation,
    )


_TRANSPORT = ("mime-version", "content-transfer-encoding")


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
            password = _open(home, row.organisation, row.password_enc) if row.password_enc else ""
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
    row, _ = _settings_row(db, organisation)
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
    row, _ = _settings_row(db, p.organisation)
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
