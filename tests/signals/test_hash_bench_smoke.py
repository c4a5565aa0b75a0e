"""bench/hash_bench.py runs (at a tiny size) so it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "hash_bench.py"


def test_hash_bench_runs_at_a_tiny_size() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--count",
            "2",
            "--sizes",
            "96x64,128x96",
            "--repeat",
            "1",
            "--no-scan",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "rempart img/s" in lines[0] and "threatexchange img/s" in lines[0]
    assert lines[1].split()[0] == "96x64" and lines[2].split()[0] == "128x96"
    assert lines[3].split()[0] == "all"
    assert int(lines[3].split()[4]) == 0  # same pixels, same hash: 0 bits apart
