"""Exact-copy hashes: MD5 (what StopNCII exchanges) and SHA-256."""

from __future__ import annotations

import hashlib


def digests(data: bytes) -> tuple[str, str]:
    """(MD5 hex, SHA-256 hex) of the bytes."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()
