"""bench/sync_bench.py runs (at a tiny size) so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sync_bench.py"


def test_sync_bench_small(tmp_path: Path) -> None:
    out = tmp_path / "sync.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--entries",
            "300",
            "--delta",
            "10",
            "--limit",
            "100",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["identical"] is True
    everything, change, nothing = result["runs"]
    assert (everything["received"], everything["pages"]) == (300, 3)
    assert (change["received"], change["deleted"]) == (10, 10)
    assert nothing["received"] == 0 and nothing["changes"] == 0
