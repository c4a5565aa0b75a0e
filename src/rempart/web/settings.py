"""The web UI's settings, from the environment (every server worker reads the same)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WebSettings:
    cookie_secure: bool = True  # the session cookie's Secure flag (0 only for plain-http tests)
    session_hours: float = 8.0  # a session ends this long after sign-in
    scan_root: Path | None = None  # folders that may be scanned from the UI live here
    scan_workers: int = 1  # hashing processes of a scan started from the UI

    @classmethod
    def from_env(cls, home: Path) -> WebSettings:
        root = os.environ.get("REMPART_WEB_SCAN_ROOT")
        return cls(
            cookie_secure=os.environ.get("REMPART_WEB_COOKIE_SECURE", "1")
            not in ("0", "no", "false"),
            session_hours=float(os.environ.get("REMPART_WEB_SESSION_HOURS") or 8.0),
            scan_root=Path(root) if root else home / "inbox",
            scan_workers=max(1, int(os.environ.get("REMPART_WEB_SCAN_WORKERS") or 1)),
        )
