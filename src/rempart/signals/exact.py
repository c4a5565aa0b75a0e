"""Exact-copy hashes: MD5 (what StopNCII exchanges) and SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rempart.media.errors import MediaError
from rempart.signals.types import MD5, SHA256

CHUNK = 1 << 20


def digests(data: bytes) -> tuple[str, str]:
    """(MD5 hex, SHA-256 hex) of the bytes."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


def file_digests(path: Path) -> tuple[str, str]:
    """(MD5 hex, SHA-256 hex) of a file, read in 1 MiB chunks (videos can be large)."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                md5.update(block)
                sha.update(block)
    except OSError as exc:
        raise MediaError(path, "unreadable", f"cannot read ({exc.strerror})") from exc
    return md5.hexdigest(), sha.hexdigest()


# This module's signal types (declared in signals/types.py's registry).
SIGNAL_TYPES = (MD5, SHA256)
