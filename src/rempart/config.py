"""Settings from the environment: REMPART_HOME (working folder) and REMPART_DB (database URL),
and the organisation's `Policy` (REMPART_EVIDENCE_MEDIA, REMPART_CSAM_AUTHORISED, REMPART_USER),
read here and nowhere else so that the CLI, the API and the web UI apply the same rules.

The working folder holds the database by default (consent records with names, the hashes of
a victim's images), the index, keys and evidence: it is created readable by its owner only
(0700), and a warning says so once when an existing one is open to other users."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("rempart")
_warned: set[Path] = set()


@dataclass(frozen=True)
class Policy:
    """What the organisation allows, and who acts (the rules themselves are in
    rempart.cases.media_rules; the actor is recorded by rempart.store.audit).

    - evidence_media: REMPART_EVIDENCE_MEDIA=allowed: found media may be kept (encrypted)
      and put in evidence packages, where the law permits it;
    - csam_authorised: REMPART_CSAM_AUTHORISED=yes: the organisation is legally authorised
      to hold content that may show a minor (otherwise such media is never revealed, kept
      or packaged);
    - user: REMPART_USER, the person acting at this machine (None: the operating-system
      user), recorded in the audit log.
    """

    evidence_media: bool = False
    csam_authorised: bool = False
    user: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Policy:
        """The policy from `env` (default: the process environment, read now)."""
        env = os.environ if env is None else env
        return cls(
            evidence_media=env.get("REMPART_EVIDENCE_MEDIA", "") == "allowed",
            csam_authorised=env.get("REMPART_CSAM_AUTHORISED", "") == "yes",
            user=env.get("REMPART_USER") or None,
        )


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def policy(self) -> Policy:
        """The organisation's policy, read from the environment when asked (a server started
        before a change of the environment applies the new policy, as it always did)."""
        return Policy.from_env()


def _default_home() -> Path:
    return Path(os.environ.get("REMPART_HOME") or Path.home() / ".rempart")


def default_home() -> Path:
    """REMPART_HOME, or ~/.rempart: where the instance keeps its state (not created here)."""
    return _default_home()


def db_url_from(value: str | None, home: Path) -> str:
    """Turn REMPART_DB (a URL or a plain file path) into an SQLAlchemy URL."""
    if not value:
        return f"sqlite:///{home / 'rempart.db'}"
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def ledger_path(home: Path) -> Path:
    """The withdrawal ledger (rempart.store.withdrawal_ledger): REMPART_LEDGER, else
    REMPART_HOME/withdrawals.ledger. Kept apart from the database and never in a backup, so
    that restoring an older backup cannot roll a withdrawal back (docs/operations.md)."""
    value = os.environ.get("REMPART_LEDGER")
    return Path(value).expanduser() if value else home / "withdrawals.ledger"


def secure_home(home: Path) -> None:
    """Create the working folder 0700 if it is missing; warn once if it is open to others."""
    try:
        if not home.exists():
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
            home.chmod(0o700)  # mkdir's mode passes through the umask
            return
        mode = home.stat().st_mode & 0o777
    except OSError:  # unwritable or odd: the command that needs it will say so
        return
    if mode & 0o077 and home not in _warned:
        _warned.add(home)
        log.warning(
            "the working folder %s is open to other users of this machine (mode %o): "
            "it holds the database (names in consent records, hashes of a victim's "
            "images), keys and evidence; fix: chmod 700 %s",
            home,
            mode,
            home,
        )


def load_settings(db: str | None = None, home: Path | None = None) -> Settings:
    """Settings from flags first, then environment variables, then defaults."""
    home = home or _default_home()
    secure_home(home)
    return Settings(home=home, db_url=db_url_from(db or os.environ.get("REMPART_DB"), home))
