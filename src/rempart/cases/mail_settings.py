"""An organisation's SMTP settings, the password sealed at rest under the mail key.

Why: notices leave from the organisation's own SMTP server (rempart.cases.mailer sends them),
so the server, the sender and a password must be kept, per organisation, without the database
alone ever giving the password back. Kept apart from the sending so that `rempart keys
status` (ops/keys.py), the settings pages and commands, and the letter (mail_letter.py,
which needs the From address) reach the settings without smtplib and the sending code.

Settings: one row per organisation (a tenant's name, or "" for the instance's own: the
command line's), `smtp_settings`. The password is encrypted with AES-256-GCM under the mail
key, a file of its own beside the other keys (REMPART_HOME/keys/mail.key, 0600, created on
first use, refused when other users can read it), bound to its organisation (associated
data), so the database alone never gives it back; `rempart keys status` lists the key.
A password is never kept for a server reached without TLS.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from rempart import keyfile
from rempart.errors import InvalidInput, Refused, SetupError
from rempart.store import audit
from rempart.store.db import Database
from rempart.store.models import CaseOwner, Notice, SmtpSetting, Tenant, utcnow

KEY_FILE = "mail.key"
SECURITIES = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


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


def open_password(home: Path, organisation: str, blob: bytes) -> str:
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


def check_address(value: str, what: str) -> str:
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
    sender = check_address(from_address, "From address")
    reply = check_address(reply_to, "Reply-To address") if reply_to.strip() else ""
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


def settings_row(db: Database, organisation: str) -> tuple[SmtpSetting, str]:
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
