"""bench/synthetic_bench.py runs (one generated photo) so it cannot rot, and its counts hold
on the fixtures: no false positive, every tampered fixture caught."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "synthetic_bench.py"


def test_synthetic_bench_small(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--photos", "1", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "seconds per image" in proc.stdout
    report = json.loads(out.read_text())
    assert report["ai"]["any signal"]["fp"] == 0
    assert report["tampered"]["fn"] == 0 and report["tampered"]["tp"] >= 2
    assert report["ai_recall_by_slice"]["as found"]["hits"] == 7
