"""A killed scan's --report is written when it is resumed, and any finished scan's report can
be written again with `rempart scan report` (issue 19 M9)."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.output


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_killed_scan_writes_its_report_on_resume(rempart_env: Path, consent_file: Path) -> None:
    hers = rempart_env / "hers"
    hers.mkdir()
    for seed in (700, 701):
        photo_like(seed, (240, 180)).save(hers / f"{seed}.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(rempart_env / "sub.json"), "--no-robust")
    rempart("bank", "create", "b")
    rempart(
        "bank",
        "import",
        "b",
        str(rempart_env / "sub.json"),
        "--case",
        "CASE-R",
        "--consent",
        str(consent_file),
    )
    found = rempart_env / "found"
    found.mkdir()
    for k in range(300):
        seed = (700, 701)[k % 2] if k % 50 == 0 else 20_000 + k
        photo_like(seed, (200, 150)).save(found / f"{k:04d}.jpg", quality=85)
    n_copies = len([k for k in range(300) if k % 50 == 0])
    db = rempart_env / "rempart.db"  # the SQLite file (this test reads it directly)
    first = rempart_env / "out" / "first.csv"
    first.parent.mkdir()
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [
        sys.executable,
        "-m",
        "rempart",
        "scan",
        str(found),
        "--bank",
        "b",
        "--workers",
        "1",
        "--no-robust",
        "--report",
        str(first),
        "--format",
        "csv",
    ]
    # from another folder: the report path is kept absolute with the scan
    proc = subprocess.Popen(
        cmd, env=env, cwd=hers, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _count(db, "select count(*) from scan_items") >= 64:
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _count(db, "select count(*) from scan_items")
    assert 64 <= done < 300, done
    scan_id = _count(db, "select max(id) from scan_runs")
    assert not first.exists()

    out = rempart("scan", "report", str(scan_id), "--out", str(rempart_env / "x.json"), code=1)
    assert "not finished" in out and f"--resume --scan-id {scan_id}" in out

    out = rempart("scan", "--resume")  # no --report: the one the killed scan was given
    assert "Resuming scan" in out and str(first) in out.replace("\n", "")
    rows = list(csv.DictReader(first.open(encoding="utf-8")))
    assert len([r for r in rows if r["status"] == "match"]) == n_copies

    out = rempart("scan", "--resume", "--scan-id", str(scan_id), "--report", "many.json", code=1)
    assert f"rempart scan report {scan_id} --out many.json" in out.replace("\n", " ")

    again = rempart_env / "again.json"
    out = rempart("scan", "report", str(scan_id), "--out", str(again))
    data = json.loads(again.read_text())
    assert data["scan_id"] == scan_id and data["banks"] == ["b"]
    assert data["summary"]["files"] == 300 and len(data["matches"]) == n_copies
    assert data["finished_at"] is not None
    rempart(
        "scan", "report", str(scan_id), "--out", str(rempart_env / "again.csv"), "--format", "csv"
    )
    rows = list(csv.DictReader((rempart_env / "again.csv").open(encoding="utf-8")))
    assert len([r for r in rows if r["status"] == "match"]) == n_copies
    out = rempart("scan", "report", "999", "--out", str(rempart_env / "y.json"), code=1)
    assert "no scan 999" in out


def test_resume_keeps_the_face_detector(tmp_path: Path) -> None:
    """A scan started with --face-detector hog resumes with hog, whatever the default."""
    from rempart.cli.commands.scan import _resumable
    from rempart.scan.options import ScanOptions
    from rempart.scan.recording import start_run
    from rempart.store.db import Database
    from tests.conftest import migrated_sqlite_url

    db = Database(migrated_sqlite_url(tmp_path / "r.db"))
    try:
        (tmp_path / "found").mkdir()
        run_id = start_run(db, [tmp_path / "found"], ScanOptions(faces=True, face_detector="hog"))
        _, roots, resumed = _resumable(db, run_id, ScanOptions(face_detector="hog+cnn"))
    finally:
        db.dispose()
    assert roots == [tmp_path / "found"]
    assert (resumed.faces, resumed.face_detector) == (True, "hog")
