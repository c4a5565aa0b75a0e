"""bench/soak.py at a tiny duration (30 s of load, two kills and a restart: about a minute
in all on 2 cores), so that it cannot rot. Slow: `make test` skips it; the real run and
its figures are in docs/deploy.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


@pytest.mark.slow
def test_soak_short_run(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", "0.5", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(out.read_text())
    assert proc.returncode == (0 if result["ok"] else 1), proc.stderr[-3000:]
    assert result["ok"], result["failures"]
    assert result["faults"]["worker_killed"]["replaced_after_s"] is not None
    assert result["faults"]["server_killed"]["restart_s"] > 0
    assert result["counts"]["imports"] > 0 and result["counts"]["withdrawals"] > 0
    assert result["checks"]["audit_verify_exit"] == 0
