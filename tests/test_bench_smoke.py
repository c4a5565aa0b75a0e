"""The benchmark scripts run (at a tiny size) so they cannot rot; real runs: `make bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_index_bench_small() -> None:
    out = run(
        "index_bench.py", "--sizes", "20000", "--queries", "300", "--reference-queries", "100"
    )
    assert "queries/s" in out
    assert out.count("queries exact, recall 1.0000") == 2  # ours and the reference
    assert "200/200 queries exact" in out


def test_hash_bench_small() -> None:
    out = run("hash_bench.py", "--count", "1", "--sizes", "320x240", "--repeat", "1")
    assert "rempart img/s" in out and "2 process(es)" in out


def test_rooms_report_bench_tiny(tmp_path: Path) -> None:
    """The rooms report over 5 generated rooms (about 3 s of CPU): figures, charts, page."""
    out_file = tmp_path / "r.json"
    run(
        "rooms_report_bench.py",
        "--rooms",
        "5",
        "--items",
        "10",
        "--repeat",
        "1",
        "--out",
        str(out_file),
    )
    result = json.loads(out_file.read_text())
    assert result["rooms"] == 5 and result["items"] == 50 and result["matches"] > 0
    assert result["report_totals"]["rooms"] == 5 and result["report_totals"]["media"] == 50
    assert result["render_seconds_best"] > 0 and result["total_seconds_best"] > 0


@pytest.mark.slow
def test_face_bench_quick() -> None:
    out = run("face_bench.py", "--quick")
    assert "1. Identity" in out and "2. Composites" in out and "3. Distractors" in out
    assert "recall@1 vs exact" in out and "images/s" in out


@pytest.mark.slow
def test_scan_bench_small() -> None:
    out = run("scan_bench.py", "--images", "20", "--repeat", "1", "--bank", "1000")
    assert "scaling: 2 processes" in out and "Dask" in out


@pytest.mark.slow
def test_robustness_bench_quick() -> None:
    out = run("robustness.py", "--quick")
    assert "overall" in out and "pHash (imagehash)" in out and "region replaced 50%" in out


def test_browser_bench_tiny() -> None:
    """The page in chromium (one for the three runs) and the CLI on one tiny photo and a
    1-second video."""
    out = run(
        "browser_bench.py",
        "--sizes",
        "0.05",
        "--count",
        "1",
        "--videos",
        "0",
        "--video-seconds",
        "1",
        "--one-browser",
    )
    from rempart.web.hashpage.driver import chromium_missing

    if chromium_missing():
        assert "browser bench not run" in out
        return
    assert "page/CLI" in out and "0.05Mp     no" in out and "0.05Mp    yes" in out
    assert "generated.mp4" in out and "page could not hash" not in out


@pytest.mark.slow
def test_robustness_browser_column_tiny() -> None:
    """The column "her browser's file" (the real page in chromium) beside the CLI's."""
    out = run("robustness.py", "--originals", "6", "--distractors", "20", "--scan-images", "4")
    from rempart.web.hashpage.driver import chromium_missing

    if chromium_missing():
        assert "her browser's file: not measured" in out
        return
    assert "her browser's file" in out and "largest difference" in out
    assert "region replaced 50%" in out.split("beside the CLI's file")[1]
