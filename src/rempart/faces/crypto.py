"""Encryption of face templates at rest: AES-256-GCM, key outside the database.

The key is a file in REMPART_HOME/keys/ (mode 0600), created on first use. Each template is
encrypted with a fresh 96-bit nonce; the associated data binds it to its case and template
number, so a ciphertext moved to another row does not decrypt. Without the key file the
database holds nothing usable; deleting the key makes every template unreadable at once.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rempart import keyfile
from rempart.errors import SetupError

KEY_FILE = "face-templates.key"
DIMENSIONS = 128


class TemplateKeyError(SetupError, RuntimeError):
    """The key is missing, damaged, or does not open a template."""


def key_path(home: Path) -> Path:
    return home / "keys" / KEY_FILE


def pending_path(home: Path) -> Path:
    """The next key while `rempart keys rotate --templates` runs (rempart.ops.keys): new
    templates are sealed with it, and templates open with either key until it replaces the
    old one, so a crash at any point leaves every template readable."""
    return home / "keys" / (KEY_FILE + ".new")


_ADVICE = "and consider it exposed: rotate it with `rempart keys rotate --templates`"


def check_mode(path: Path) -> None:
    """TemplateKeyError when a key file can be read by other users of the machine."""
    keyfile.check_private(path, TemplateKeyError, _ADVICE)


def load_key(home: Path, *, create: bool) -> bytes:
    path = key_path(home)
    if not path.exists():
        if not create:
            raise TemplateKeyError(f"no face-template key at {path}: templates cannot be read")
        return keyfile.create_key(path, error=TemplateKeyError, advice=_ADVICE)
    return keyfile.read_key(path, TemplateKeyError, _ADVICE)


def cipher(home: Path, *, create: bool) -> TemplateCipher:
    """The cipher of this home's templates: sealing with the newest key (the pending one
    during a rotation), opening with either."""
    key = load_key(home, create=create)
    pending = pending_path(home)
    if pending.exists():
        check_mode(pending)
        new = pending.read_bytes()
        if len(new) == 32:
            return TemplateCipher(new, fallback=key)
    return TemplateCipher(key)


class TemplateCipher:
    def __init__(self, key: bytes, fallback: bytes | None = None) -> None:
        self._aead = AESGCM(key)
        self._fallback = AESGCM(fallback) if fallback is not None else None

    @staticmethod
    def _aad(case_number: str, template_ref: str) -> bytes:
        return f"rempart-face-template:{case_number}:{template_ref}".encode()

    def seal(self, template: np.ndarray, case_number: str, template_ref: str) -> bytes:
        vec = np.asarray(template, dtype="<f4").reshape(DIMENSIONS)
        nonce = secrets.token_bytes(12)
        aad = self._aad(case_number, template_ref)
        return nonce + self._aead.encrypt(nonce, vec.tobytes(), aad)

    def open(self, blob: bytes, case_number: str, template_ref: str) -> np.ndarray:
        aad = self._aad(case_number, template_ref)
        try:
            try:
                plain = self._aead.decrypt(blob[:12], blob[12:], aad)
            except InvalidTag:
                if self._fallback is None:
                    raise
                plain = self._fallback.decrypt(blob[:12], blob[12:], aad)
        except InvalidTag as exc:
            raise TemplateKeyError(
                f"face template {template_ref} of case {case_number} does not decrypt with "
                "this key (wrong key or altered data)"
            ) from exc
        return np.frombuffer(plain, dtype="<f4").astype(np.float32)
