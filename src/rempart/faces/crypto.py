"""Encryption of face templates at rest: AES-256-GCM, key outside the database.

The key is a file in REMPART_HOME/keys/ (mode 0600), created on first use. Each template is
encrypted with a fresh 96-bit nonce; the associated data binds it to its case and template
number, so a ciphertext moved to another row does not decrypt. Without the key file the
database holds nothing usable; deleting the key makes every template unreadable at once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rempart.errors import SetupError

KEY_FILE = "face-templates.key"
DIMENSIONS = 128


class TemplateKeyError(SetupError, RuntimeError):
    """The key is missing, damaged, or does not open a template."""


def key_path(home: Path) -> Path:
    return home / "keys" / KEY_FILE


def load_key(home: Path, *, create: bool) -> bytes:
    path = key_path(home)
    if not path.exists():
        if not create:
            raise TemplateKeyError(f"no face-template key at {path}: templates cannot be read")
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        key = AESGCM.generate_key(bit_length=256)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key
    key = path.read_bytes()
    if len(key) != 32:
        raise TemplateKeyError(f"{path}: not a 256-bit key ({len(key)} bytes)")
    return key


class TemplateCipher:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @staticmethod
    def _aad(case_number: str, template_ref: str) -> bytes:
        return f"rempart-face-template:{case_number}:{template_ref}".encode()

    def seal(self, template: np.ndarray, case_number: str, template_ref: str) -> bytes:
        vec = np.asarray(template, dtype="<f4").reshape(DIMENSIONS)
        nonce = secrets.token_bytes(12)
        aad = self._aad(case_number, template_ref)
        return nonce + self._aead.encrypt(nonce, vec.tobytes(), aad)

    def open(self, blob: bytes, case_number: str, template_ref: str) -> np.ndarray:
        try:
            plain = self._aead.decrypt(blob[:12], blob[12:], self._aad(case_number, template_ref))
        except InvalidTag as exc:
            raise TemplateKeyError(
                f"face template {template_ref} of case {case_number} does not decrypt with "
                "this key (wrong key or altered data)"
            ) from exc
        return np.frombuffer(plain, dtype="<f4").astype(np.float32)
