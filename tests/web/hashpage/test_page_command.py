"""`rempart hash-page --out FILE` writes the one-file page (with its CSP) and says where; a
path it cannot write is a clear error (exit 1), not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", "hash-page", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_writes_the_page(tmp_path: Path, hash_page_path: Path) -> None:
    out = tmp_path / "rempart-hash.html"
    done = run("--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "rempart-hash.html" in done.stderr
    html = out.read_text(encoding="utf-8")
    assert html == hash_page_path.read_text(encoding="utf-8")  # the same page every time
    assert "connect-src 'none'" in html and 'id="worker-src"' in html
    assert not list(tmp_path.glob("*.tmp"))


def test_unwritable_path_is_a_clear_error(tmp_path: Path, hash_page_path: Path) -> None:
    done = run("--out", str(tmp_path / "missing-folder" / "page.html"))
    assert done.returncode == 1
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr
