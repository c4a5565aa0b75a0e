"""Key care: what keys an instance has (status), new keys without losing what the old ones
protect (rotate), and a clear refusal when a key is missing or open to other users.

Why: the keys live in REMPART_HOME/keys, apart from the database on purpose: lose the
face-template key and every enrolled face is gone; lose the preserved-media key and the
preserved evidence is noise; a key readable by other users of the machine is as good as
published. Rotation is crash-safe, the old key kept until the new one holds everything:
- templates: the new key is written beside the old (`<key>.new`, fsynced); every template is
  re-encrypted in one database transaction; then the new key replaces the old (an atomic
  rename). Until then templates open with either key (faces/crypto.py `cipher`), and new
  ones are sealed with the new key, so a crash or a concurrent enrolment loses nothing;
  running the rotation again finishes an interrupted one.
- preserved media: same pending key; each file is re-encrypted and replaced atomically, then
  the new key replaces the old; files open with either key meanwhile (store/media_store.py).
- signing: a new Ed25519 key; the old public key joins the retired keys, so packages it
  signed still verify here, and `rempart evidence verify` names the key that signed.
Each rotation is audited (old and new fingerprints, never a key).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from rempart import keyfile
from rempart.cases import evidence, mail_settings
from rempart.config import ledger_path
from rempart.errors import SetupError
from rempart.faces import crypto
from rempart.store import audit, media_store, withdrawal_ledger
from rempart.store.db import Database
from rempart.store.models import Case, FaceTemplate

WEB_SESSION_KEY = "web-session.key"  # web/session.py's KEY_FILE (the web layer sits above)


@dataclass(frozen=True)
class KeyStatus:
    """One key: where, whether it is there, its fingerprint (never the key), its mode."""

    name: str
    purpose: str
    path: str
    exists: bool
    fingerprint: str | None
    mode: str | None
    problem: str | None  # None: fine
    protects: int | None = None  # templates / files / packages it opens, when known
    extra: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def secret_fingerprint(key: bytes) -> str:
    """A fingerprint of a secret key: a one-way digest that cannot give the key back."""
    return hashlib.sha256(b"rempart-key-fingerprint:" + key).hexdigest()[:16]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _problem(path: Path) -> str | None:
    mode = _mode(path)
    if mode & 0o077:
        return f"readable by other users (mode {mode:o}): chmod 600 {path}"
    return None


def _one(
    name: str, purpose: str, path: Path, protects: int | None, needed: bool, public: bool = False
) -> KeyStatus:
    if not path.exists():
        problem = (
            f"missing, and {protects} item(s) need it: put it back from a backup"
            if needed and protects
            else None
        )
        return KeyStatus(name, purpose, str(path), False, None, None, problem, protects)
    data = path.read_bytes()
    if public:
        key = evidence.signing_key(path.parent.parent) if _problem(path) is None else None
        fp = evidence.fingerprint(evidence.public_key_hex(key)) if key else None
    else:
        fp = secret_fingerprint(data)
    return KeyStatus(
        name, purpose, str(path), True, fp, f"{_mode(path):o}", _problem(path), protects
    )


def status(home: Path, db: Database | None) -> list[KeyStatus]:
    """Every key of this instance (see KeyStatus); `db` to count what the keys protect."""
    templates = None
    if db is not None:
        with db.session() as s:
            templates = len(list(s.scalars(select(FaceTemplate.id))))
    media = len(list((home / "evidence").glob("*.bin"))) if (home / "evidence").is_dir() else 0
    keys = home / "keys"
    lpath = ledger_path(home)
    signing = _one(
        "signing",
        "signs evidence packages (Ed25519; fingerprint of the public key)",
        keys / evidence.KEY_FILE,
        None,
        False,
        public=True,
    )
    retired = evidence._read_keys(keys / evidence.RETIRED_FILE)
    trusted = evidence._read_keys(keys / evidence.TRUST_FILE)
    signing = KeyStatus(
        **{
            **signing.as_dict(),
            "extra": {
                "retired": [evidence.fingerprint(k["public_key"]) for k in retired],
                "trusted": len(trusted),
            },
        }
    )
    found = [
        _one(
            "templates",
            "encrypts face templates (AES-256-GCM)",
            crypto.key_path(home),
            templates,
            True,
        ),
        _one(
            "media",
            "encrypts preserved evidence media (AES-256-GCM)",
            media_store.key_path(home),
            media,
            True,
        ),
        signing,
        _one(
            "mail",
            "encrypts SMTP passwords (AES-256-GCM)",
            mail_settings.key_path(home),
            None,
            False,
        ),
        _one("web-session", "signs web UI sessions", keys / WEB_SESSION_KEY, None, False),
        _one(
            "ledger",
            "keys the withdrawal ledger's digests (HMAC-SHA256)",
            withdrawal_ledger.key_path(lpath),
            1 if lpath.exists() and lpath.stat().st_size else 0,
            True,
        ),
    ]
    for pending, name in (
        (crypto.pending_path(home), "templates"),
        (media_store.pending_path(home), "media"),
    ):
        if pending.exists():
            found.append(
                KeyStatus(
                    f"{name}-pending",
                    f"an interrupted rotation of the {name} key: run `rempart keys rotate "
                    f"--{name}` again to finish it",
                    str(pending),
                    True,
                    secret_fingerprint(pending.read_bytes()),
                    f"{_mode(pending):o}",
                    "rotation not finished",
                )
            )
    if keys.is_dir() and _mode(keys) & 0o077:
        found.append(
            KeyStatus(
                "folder",
                "the keys folder",
                str(keys),
                True,
                None,
                f"{_mode(keys):o}",
                f"open to other users (mode {_mode(keys):o}): chmod 700 {keys}",
            )
        )
    return found


def check(home: Path, db: Database | None) -> list[KeyStatus]:
    """`status`, refusing (SetupError naming each) when a needed key is missing or a key is
    open to other users."""
    found = status(home, db)
    bad = [k for k in found if k.problem and k.name not in ("folder",) and "-pending" not in k.name]
    if bad:
        raise SetupError("; ".join(f"{k.name} key {k.path}: {k.problem}" for k in bad))
    return found


def _write_new(path: Path) -> bytes:
    """A pending key: reused when an interrupted rotation left one, else made (0600,
    fsynced) before anything is encrypted with it."""
    if path.exists():
        key = path.read_bytes()
        if len(key) == 32:
            return key
        path.unlink()
    return keyfile.create_key(path, durable=True)


@dataclass(frozen=True)
class Rotation:
    key: str
    old_fingerprint: str | None
    new_fingerprint: str
    reencrypted: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rotate_templates(db: Database, home: Path) -> Rotation:
    """A new face-template key; every template re-encrypted under it in one transaction."""
    old_path = crypto.key_path(home)
    old = crypto.load_key(home, create=False)
    crypto.check_mode(old_path)
    pending = crypto.pending_path(home)
    new = _write_new(pending)
    both = crypto.TemplateCipher(new, fallback=old)
    sealer = crypto.TemplateCipher(new)
    with db.session() as s:
        if db.backend == "postgresql":  # no enrolment slips in between read and write
            s.execute(text("LOCK TABLE face_templates IN SHARE ROW EXCLUSIVE MODE"))
        rows = s.execute(
            select(FaceTemplate, Case.number).join(Case, FaceTemplate.case_id == Case.id)
        ).all()
        for row, number in rows:
            vector = both.open(row.ciphertext, number, row.ref)
            row.ciphertext = sealer.seal(vector, number, row.ref)
        audit.record(
            s,
            "key-rotate",
            details={
                "key": "templates",
                "old": secret_fingerprint(old),
                "new": secret_fingerprint(new),
                "templates": len(rows),
            },
        )
    os.replace(pending, old_path)  # committed: the new key takes the old one's place
    keyfile.fsync_dir(old_path.parent)
    return Rotation("templates", secret_fingerprint(old), secret_fingerprint(new), len(rows))


def rotate_media(db: Database, home: Path) -> Rotation:
    """A new preserved-media key; every preserved file re-encrypted under it."""
    old_path = media_store.key_path(home)
    if not old_path.exists():
        media_store._key(home)  # refuses when preserved media exists without its key
    old = media_store._read_key(old_path)
    pending = media_store.pending_path(home)
    new = _write_new(pending)
    done = 0
    folder = home / "evidence"
    for path in sorted(folder.glob("*.bin")) if folder.is_dir() else []:
        sha = path.stem
        blob = path.read_bytes()
        if media_store.open_blob([new], blob, sha) is not None:
            continue  # re-encrypted before an interruption
        data = media_store.open_blob([old], blob, sha)
        if data is None:
            raise SetupError(
                f"{path}: preserved evidence opens with neither key (altered?): rotation "
                "stopped, nothing lost (both keys kept)"
            )
        tmp = path.with_name(path.name + ".rot")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(media_store.seal_blob(new, data, sha))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        done += 1
    if folder.is_dir():
        keyfile.fsync_dir(folder)
    with db.session() as s:
        audit.record(
            s,
            "key-rotate",
            details={
                "key": "media",
                "old": secret_fingerprint(old),
                "new": secret_fingerprint(new),
                "files": done,
            },
        )
    os.replace(pending, old_path)
    keyfile.fsync_dir(old_path.parent)
    return Rotation("media", secret_fingerprint(old), secret_fingerprint(new), done)


def rotate_signing(db: Database, home: Path) -> Rotation:
    """A new signing key; the old public key stays trusted (retired), so packages it signed
    still verify."""
    old_pub, new_pub = evidence.rotate_key(home)
    old_fp = evidence.fingerprint(old_pub) if old_pub else None
    new_fp = evidence.fingerprint(new_pub)
    with db.session() as s:
        audit.record(s, "key-rotate", details={"key": "signing", "old": old_fp, "new": new_fp})
    return Rotation("signing", old_fp, new_fp, 0)
