"""A 2-hour video is streamed: hashing it takes no more memory than hashing a 1-minute one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rempart.samples import photo_like


def tiny_video(path: Path, seconds: int) -> Path:
    """`seconds` seconds at 1 frame/s, 96x64: cheap to make, long to play."""
    looks = [np.asarray(photo_like(k, (96, 64))) for k in range(12)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=1, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.time_base = Fraction(1, 1)
        for i in range(seconds):
            frame = av.VideoFrame.from_ndarray(looks[(i // 5) % len(looks)], format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run `rempart ARGS` in a fresh process; its peak resident memory in MB."""
    code = (
        "import resource, sys\n"
        "from rempart.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "else:\n"
        "    code = 0\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    peak = next(line for line in done.stderr.splitlines() if line.startswith("PEAK"))
    return int(peak.split()[1]) / 1024, done.stdout


def test_two_hour_video_hashes_and_scans_in_bounded_memory(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REMPART_HOME": str(tmp_path / "home"),
        "REMPART_DB": str(tmp_path / "r.db"),
    }
    short = tiny_video(tmp_path / "short.mp4", 60)
    long = tiny_video(tmp_path / "long.mp4", 2 * 3600)
    base, _ = peak_rss_mb(["hash", str(short), "--format", "vpdq"], env)
    peak, text = peak_rss_mb(["hash", str(long), "--format", "vpdq"], env)
    lines = text.splitlines()
    # 7,200 seconds sampled at 1 frame/s; repeated frames (5 s per look) are kept in vPDQ text
    assert len(lines) == 7200 and lines[-1].endswith(",7199.000")
    assert peak - base < 60, f"2-hour video took {peak:.0f} MB, 1-minute {base:.0f} MB"
    report = tmp_path / "scan.json"
    peak_scan, _ = peak_rss_mb(["scan", str(long), "--report", str(report), "--workers", "1"], env)
    summary = json.loads(report.read_text())["summary"]
    assert summary["videos"] == 1 and summary["skipped"] == 0
    assert peak_scan - base < 120, f"scan of a 2-hour video took {peak_scan:.0f} MB"
    print(
        f"peak RSS: 1-minute hash {base:.0f} MB, 2-hour hash {peak:.0f} MB, 2-hour scan "
        f"{peak_scan:.0f} MB"
    )
