"""bench/api_load.py runs (tiny bank, few requests) so it cannot rot; real runs: see
docs/api.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api_load.py"


@pytest.mark.slow
def test_api_load_bench_small(tmp_path: Path) -> None:
    out = tmp_path / "api_load.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--hashes",
            "5000",
            "--known",
            "50",
            "--requests",
            "600",
            "--seconds",
            "20",
            "--workers",
            "1",
            "--clients",
            "1",
            "--concurrency",
            "4",
            "--batch",
            "50",
            "--batch-requests",
            "20",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "requests/s" in proc.stdout and "p99" in proc.stdout and "HMA" in proc.stdout
    single, batch = json.loads(out.read_text())["results"]
    assert single["failed"] == 0 and single["wrong_answers"] == 0 and single["requests"] == 600
    assert batch["lookups"] == 1000 and batch["failed"] == 0
