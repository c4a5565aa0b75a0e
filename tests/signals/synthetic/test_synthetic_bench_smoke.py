"""bench/synthetic_bench.py runs (one generated photo, a tiny labelled set with a broken
file) so it cannot rot, and its counts hold on the fixtures: no false positive, every
tampered fixture caught, recall per source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "synthetic_bench.py"


def test_synthetic_bench_small(tmp_path: Path) -> None:
    from rempart.samples import photo_like
    from tests.signals.synthetic import media_builders as mb

    out = tmp_path / "bench.json"
    lab = tmp_path / "lab"  # an organisation's labelled set: ai/<source>/, real/<kind>/
    (lab / "ai" / "ToolX").mkdir(parents=True)
    (lab / "real" / "phone").mkdir(parents=True)
    (lab / "ai" / "ToolX" / "a.jpg").write_bytes(
        mb.jpeg(7, xmp=mb.xmp_packet("trainedAlgorithmicMedia"))
    )
    photo_like(3, (200, 150)).save(lab / "real" / "phone" / "p.jpg")
    (lab / "real" / "phone" / "broken.jpg").write_bytes(b"\xff\xd8 not a picture")
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--photos", "1", "--quick", "--out", str(out)]
        + ["--labelled", str(lab)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "seconds per image" in proc.stdout
    report = json.loads(out.read_text())
    assert report["ai"]["any signal"]["fp"] == 0
    assert report["tampered"]["fn"] == 0 and report["tampered"]["tp"] >= 2
    assert report["ai_recall_by_slice"]["as found"]["hits"] == 8
    tool = report["ai_recall_by_source"]["ToolX"]
    assert tool["as_found"] == {"hits": 1, "of": 1, "recall_95": tool["as_found"]["recall_95"]}
    assert report["ai_recall_by_source"]["Adobe Firefly (C2PA)"]["as_found"]["hits"] == 1
    assert report["negatives_with_any_finding"]["phone"]["of"] == 2
    assert any("broken.jpg" in name for name in report["problems"])
