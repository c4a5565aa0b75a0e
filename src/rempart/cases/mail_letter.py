"""The letter of a notice as it will leave: an e-mail message, or the text for a web form.

Why: what a caseworker previews (`rempart notice preview`, the notice's page) must be the
very message that is sent, so one function builds it (`build`) for the preview and for the
sending (rempart.cases.mailer). The notice leaves as the letter itself (text/plain, UTF-8,
in its language; never an attachment, never media, never her name unless the letter already
has it): the template's header lines become the message's Subject (and To), the rest its
body. A platform that takes notices through a web form gets no e-mail: the letter's text
and the form's address are returned to copy. No SMTP connection here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

from rempart.cases import mail_settings, notices
from rempart.errors import NotFound, Refused
from rempart.store.db import Database
from rempart.store.models import Notice, utcnow

# The header lines a letter template starts with (templates/<language>.txt): they become the
# message's headers, the rest is its body.
SUBJECT_NAMES = ("subject", "objet", "제목")
TO_NAMES = ("to", "à", "a", "받는 곳", "받는곳")


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
    recipient = mail_settings.check_address(
        contact, f"{base['platform']}'s contact in platforms.toml"
    )
    organisation = mail_settings.organisation_of(db, notice_id)
    row, _ = mail_settings.settings_row(db, organisation)
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
