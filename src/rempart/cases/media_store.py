"""Found media kept as evidence, encrypted at rest (only where the organisation may keep it).

When a match is confirmed and the evidence mode allows it (REMPART_EVIDENCE_MEDIA=allowed),
the file as found is copied into REMPART_HOME/evidence/<sha256>.bin, encrypted with
AES-256-GCM under a key kept apart (REMPART_HOME/keys/evidence-media.key), so the proof
survives the platform removing the content. Never for a possible minor unless the
organisation is authorised (REMPART_CSAM_AUTHORISED=yes).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rempart.store.repository import StoreError

KEY_FILE = "evidence-media.key"


def _key(home: Path) -> bytes:
    path = home / "keys" / KEY_FILE
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _path(home: Path, sha256: str) -> Path:
    return home / "evidence" / f"{sha256}.bin"


def preserve(home: Path, data: bytes) -> str:
    """Keep `data` encrypted; returns its SHA-256 (the name it is kept under)."""
    digest = hashlib.sha256(data).hexdigest()
    path = _path(home, digest)
    if path.exists():
        return digest
    path.parent.mkdir(parents=True, exist_ok=True)
    nonce = secrets.token_bytes(12)
    blob = nonce + AESGCM(_key(home)).encrypt(nonce, data, digest.encode())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    return digest


def load(home: Path, sha256: str) -> bytes | None:
    path = _path(home, sha256)
    if not path.exists():
        return None
    blob = path.read_bytes()
    try:
        data = AESGCM(_key(home)).decrypt(blob[:12], blob[12:], sha256.encode())
    except InvalidTag as exc:
        raise StoreError(
            f"{path}: preserved evidence does not decrypt (altered, or another key)"
        ) from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StoreError(f"{path}: preserved evidence does not match its SHA-256")
    return data
