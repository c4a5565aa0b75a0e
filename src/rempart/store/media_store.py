"""Found media kept as evidence, encrypted at rest (only where the organisation may keep it).

Also the storage of review copies (rempart.store.review_copies): one key, one file format,
one place, so backups and `rempart keys rotate --media` cover both.

When a match is confirmed and the evidence mode allows it (REMPART_EVIDENCE_MEDIA=allowed),
the file as found is copied into REMPART_HOME/evidence/<sha256>.bin, encrypted with
AES-256-GCM under a key kept apart (REMPART_HOME/keys/evidence-media.key), so the proof
survives the platform removing the content. Never for a possible minor unless the
organisation is authorised (REMPART_CSAM_AUTHORISED=yes).
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rempart import keyfile
from rempart.errors import SetupError
from rempart.store.repository import StoreError

KEY_FILE = "evidence-media.key"


def key_path(home: Path) -> Path:
    return home / "keys" / KEY_FILE


def pending_path(home: Path) -> Path:
    """The next key while `rempart keys rotate --media` runs (rempart.ops.keys): each file
    is re-encrypted in place (atomically), and a file opens with either key until the new
    key replaces the old one, so a crash at any point leaves every file readable."""
    return home / "keys" / (KEY_FILE + ".new")


_ADVICE = "and consider it exposed: rotate it with `rempart keys rotate --media`"


def _read_key(path: Path) -> bytes:
    return keyfile.read_key(path, SetupError, _ADVICE)


def _keys(home: Path) -> list[bytes]:
    """The keys to open preserved media with: the pending one first (during a rotation)."""
    pending = pending_path(home)
    return ([_read_key(pending)] if pending.exists() else []) + [_key(home)]


def _key(home: Path) -> bytes:
    path = key_path(home)
    if path.exists():
        return _read_key(path)
    if any((home / "evidence").glob("*.bin")):
        raise SetupError(
            f"no preserved-media key at {path}, but preserved media is in {home / 'evidence'}: "
            "put the key back (from a backup: rempart restore) instead of making a new one"
        )
    return keyfile.create_key(path, advice=_ADVICE)  # or the one made meanwhile elsewhere


def _path(home: Path, sha256: str) -> Path:
    return home / "evidence" / f"{sha256}.bin"


def preserve(home: Path, data: bytes) -> str:
    """Keep `data` encrypted; returns its SHA-256 (the name it is kept under)."""
    digest = hashlib.sha256(data).hexdigest()
    path = _path(home, digest)
    if path.exists():
        return digest
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = seal_blob(_keys(home)[0], data, digest)
    tmp = path.with_name(f".{digest}.{secrets.token_hex(4)}.tmp")  # one per writer
    tmp.write_bytes(blob)
    tmp.replace(path)
    return digest


def stored_path(home: Path, sha256: str) -> Path:
    """Where media kept under this SHA-256 is (preserved evidence and review copies)."""
    return _path(home, sha256)


def existing_keys(home: Path) -> list[bytes]:
    """The keys that exist, the pending one first; none is made (for reading only)."""
    return [_read_key(p) for p in (pending_path(home), key_path(home)) if p.exists()]


def load(home: Path, sha256: str) -> bytes | None:
    path = _path(home, sha256)
    if not path.exists():
        return None
    blob = path.read_bytes()
    data = open_blob(_keys(home), blob, sha256)
    if data is None:
        raise StoreError(f"{path}: preserved evidence does not decrypt (altered, or another key)")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StoreError(f"{path}: preserved evidence does not match its SHA-256")
    return data


def open_blob(keys: list[bytes], blob: bytes, sha256: str) -> bytes | None:
    """The plain media of a preserved file's bytes, under the first key that opens it."""
    for key in keys:
        try:
            return AESGCM(key).decrypt(blob[:12], blob[12:], sha256.encode())
        except InvalidTag:
            continue
    return None


def seal_blob(key: bytes, data: bytes, sha256: str) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, data, sha256.encode())
