"""Scans started from the UI: `run_scan` in a background thread of the server process, its
progress written to REMPART_HOME/web/scans/<job>.json (so that any worker answers the
page's polling), the folder always one inside the organisation's inbox: ROOT/ORG, the scan
root being REMPART_WEB_SCAN_ROOT (default REMPART_HOME/inbox). One organisation never
lists or scans another's folders; an admin sees the whole root."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rempart.access.auth import Principal
from rempart.access.records import scan_matches
from rempart.cases.returns import reopen_returned
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import audit
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.repository import StoreError

log = logging.getLogger("rempart.web")
TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
JOB_ID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_running = threading.Semaphore(1)  # one UI scan at a time per server process: others queue


@dataclass
class Job:
    id: str
    key_row: int  # who started it (only she, or an admin, sees it)
    tenant_id: int | None
    folder: str  # relative to the scan root
    banks: list[str]
    state: str = "queued"  # queued, running, finished, failed
    done: int = 0
    total: int = 0
    current: str = ""
    scan_id: int | None = None
    files: int = 0
    skipped: int = 0
    matches: int = 0  # on the cases this person may see
    returned: int = 0
    error: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        del out["key_row"], out["tenant_id"]
        return out


def scan_folders(root: Path) -> list[str]:
    """The folders (relative names) that may be scanned: the root's subfolders, two deep."""
    if not root.is_dir():
        return []
    out = []
    for first in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out.append(first.name)
        out += [
            f"{first.name}/{p.name}"
            for p in sorted(first.iterdir())
            if p.is_dir() and not p.name.startswith(".")
        ]
    return out


def inbox_for(root: Path | None, p: Principal) -> Path | None:
    """The scan folder of the caller's organisation: ROOT/ORG (default
    ~/.rempart/inbox/ORG/, made 0700 on first use); its caseworkers list and scan only
    that. An admin's is the whole root. None without a root."""
    if root is None or p.role == "admin":
        return root
    name = p.tenant or ""
    if not TENANT.match(name) or ".." in name:  # tenant names are checked when made
        return None
    inbox = root / name
    if not inbox.exists():
        try:
            inbox.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            log.warning("cannot create the inbox %s", inbox)
    return inbox


def resolve_folder(root: Path, name: str) -> Path:
    """The folder `name` inside the root; StoreError for anything outside it."""
    base = root.resolve()
    path = (base / name).resolve()
    if not name or name.startswith("/") or not path.is_relative_to(base) or not path.is_dir():
        raise StoreError("not a folder of the scan root")
    return path


def _path(home: Path, job_id: str) -> Path:
    return home / "web" / "scans" / f"{job_id}.json"


def save(home: Path, job: Job) -> None:
    path = _path(home, job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(asdict(job)), encoding="utf-8")
    tmp.replace(path)


def load(home: Path, job_id: str) -> Job | None:
    if not job_id or len(job_id) > 64 or not set(job_id) <= JOB_ID:
        return None
    try:
        return Job(**json.loads(_path(home, job_id).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def start(
    db: Database,
    home: Path,
    root: Path,
    folder: str,
    banks: list[str],
    key_row: int,
    tenant_id: int | None,
    actor: str,
    workers: int = 1,
) -> Job:
    """Check the folder, then scan it in a background thread; returns the job at once."""
    path = resolve_folder(root, folder)
    job = Job(secrets.token_urlsafe(12), key_row, tenant_id, folder, banks)
    save(home, job)

    def progress(done: int, total: int, current: str) -> None:
        job.done, job.total, job.current = done, total, Path(current).name
        now = time.monotonic()
        if now - last[0] >= 0.2 or done == total:
            last[0] = now
            save(home, job)

    last = [0.0]

    def work() -> None:
        with _running, audit.acting_as(actor):
            job.state = "running"
            save(home, job)
            try:
                options = ScanOptions(
                    banks=tuple(banks), workers=workers, cache_dir=str(home / "cache" / "hashes")
                )
                result = run_scan(db, BankIndex(db, home), [path], options, progress)
                job.scan_id = result.scan_id
                job.returned = len(reopen_returned(db, result.scan_id))
                job.files, job.skipped = result.files, len(result.skipped)
                job.matches = scan_matches(db, result.scan_id, tenant_id)
                job.done = job.total = max(job.done, job.total)
                job.state = "finished"
                audit.write_head(db, home)
            except Exception as exc:  # shown on the page; the details are in the log
                log.exception("scan from the web UI failed")
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
            job.finished_at = time.time()
            save(home, job)

    threading.Thread(target=work, name=f"rempart-web-scan-{job.id}", daemon=True).start()
    return job
