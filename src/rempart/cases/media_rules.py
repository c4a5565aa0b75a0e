"""The rules on a match's media, in one place: who may see the clear picture, and when the
media may be kept or put in an evidence package.

The CLI and the web UI both call these functions and decide nothing themselves, so the two
can never disagree (the CLI once revealed a possible minor that the web UI refused):
- a match that may show a minor is never revealed, and its media is never kept nor
  packaged, unless the organisation is legally authorised (REMPART_CSAM_AUTHORISED=yes);
- media is kept (encrypted) or packaged only where the organisation's evidence mode allows
  it (REMPART_EVIDENCE_MEDIA=allowed).
The organisation's choices come from its `rempart.config.Policy` (the settings' `policy`);
each function takes one, or an environment mapping (tests), or reads the policy now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from rempart.cases.review import ReviewItem
from rempart.config import Policy
from rempart.store import audit, media_store
from rempart.store.db import Database
from rempart.store.repository import StoreError


class MediaRefused(StoreError):
    """What the rules refuse, with the reason (`reason` is a short key for front-ends that
    translate it: minor or evidence-mode)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


Env = Mapping[str, str] | Policy | None


def _policy(env: Env) -> Policy:
    return env if isinstance(env, Policy) else Policy.from_env(env)


def csam_authorised(env: Env = None) -> bool:
    """Whether the organisation is legally authorised to hold content that may show a minor."""
    return _policy(env).csam_authorised


def evidence_media_allowed(env: Env = None) -> bool:
    """Whether the organisation's evidence mode allows storing media."""
    return _policy(env).evidence_media


def check_reveal(item: ReviewItem, env: Env = None) -> None:
    """Refuse (MediaRefused) to show the clear picture of a match that may show a minor."""
    if item.possible_minor and not csam_authorised(env):
        raise MediaRefused(
            f"{item.ref} may show a minor: it is never revealed (only the "
            "blurred preview is shown); report it to the child-protection "
            "hotline",
            "minor",
        )


def may_preserve(item: ReviewItem, env: Env = None) -> str | None:
    """None when a confirmed match's media may be kept as evidence (encrypted); otherwise
    why not (evidence-mode or minor)."""
    if not evidence_media_allowed(env):
        return "evidence-mode"
    if item.possible_minor and not csam_authorised(env):
        return "minor"
    return None


def check_package_media(item: ReviewItem, env: Env = None) -> None:
    """Refuse (MediaRefused) to put a match's media in an evidence package where the rules
    do not allow it."""
    if item.possible_minor and not csam_authorised(env):
        raise MediaRefused(
            f"{item.ref} may show a minor: its media is never put in a package "
            "unless the organisation is legally authorised "
            "(REMPART_CSAM_AUTHORISED=yes); report it to the child-protection "
            "hotline instead",
            "minor",
        )
    if not evidence_media_allowed(env):
        raise MediaRefused(
            "this organisation's evidence mode does not allow storing media "
            "(set REMPART_EVIDENCE_MEDIA=allowed where the law permits it)",
            "evidence-mode",
        )


def file_of(locator: str) -> Path:
    """The file a locator names: a Telegram export's `path#message=N` is the file `path`
    (archive members `zip!member` and downloads are not kept: their path does not exist)."""
    path = Path(locator)
    if not path.exists() and "#" in locator:
        path = Path(locator.rsplit("#", 1)[0])
    return path


def preserve_confirmed(db: Database, home: Path, item: ReviewItem, env: Env = None) -> str:
    """After a match was confirmed: keep its media as found, encrypted, where the rules
    allow it. Returns what happened: preserved, evidence-mode, minor or unreadable."""
    why_not = may_preserve(item, env)
    if why_not is not None:
        return why_not
    try:
        data = file_of(item.file).read_bytes()
    except OSError:
        return "unreadable"
    media_store.preserve(home, data)
    with db.session() as s:
        audit.record(
            s,
            "evidence-preserve",
            case=item.case,
            details={"match": item.ref, "sha256": hashlib.sha256(data).hexdigest()},
        )
    return "preserved"
