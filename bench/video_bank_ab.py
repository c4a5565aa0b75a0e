"""The bank side's video hashing (`rempart hash`: every frame, inside bars, halves; the
figure of issue 22 item 1) of this checkout against an earlier commit, in one run.

Why: the shared machine's load changes by the minute, so a speed change is only visible as
a ratio of two measurements taken under the same load. The earlier commit is checked out
into a temporary git worktree (its C kernels copied from this checkout's build: run `make`
first; the kernels' sources must be the same), and the two trees hash Meta's sample videos
in alternating rounds (A B B A A B ...), each round a fresh process running the bench's
bank-side job over every sample on `--workers` processes (1 FFmpeg thread each). Per tree:
the best and median wall time, the CPU time of the hashing (each job's process time in its
worker, FFmpeg's threads included; not the start-up), and x real time.

    python bench/video_bank_ab.py --before a79f6c5 [--rounds 4] [--workers 2] [--robust]

`--robust` also hashes the robust stage's centre crops (`rempart hash`'s default).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "testdata" / "threatexchange" / "tmk" / "sample-videos"

# One round, run in a fresh interpreter with the tree's src/ first on sys.path.
ROUND = r"""
import json, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rempart.signals.vpdq import BANK_DEDUPE_DISTANCE, hash_video_file

ROBUST = sys.argv[3] == "1"


def job(path):
    kw = {"robust": "stored"} if ROBUST else {}
    c0 = time.process_time()
    h = hash_video_file(
        Path(path), seconds_per_frame=0.0, threads=1, regions=True,
        dedupe_distance=BANK_DEDUPE_DISTANCE, **kw,
    )
    cpu = time.process_time() - c0
    return h.duration or 0.0, len(h.frames) + len(h.trimmed_frames) + sum(
        map(len, h.regions.values())
    ), cpu


def warm(_):
    return 0


paths = json.loads(sys.argv[1])
with ProcessPoolExecutor(int(sys.argv[2])) as pool:
    list(pool.map(warm, range(int(sys.argv[2]))))
    t0 = time.perf_counter()
    out = list(pool.map(job, paths))
    wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "seconds": sum(o[0] for o in out),
                  "hashes": sum(o[1] for o in out), "cpu": sum(o[2] for o in out)}))
"""


def worktree(rev: str, folder: Path) -> Path:
    """`rev` checked out at `folder`, with this checkout's built C kernels."""
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
        check=True,
        capture_output=True,
    )
    for built in (ROOT / "src" / "rempart").rglob("*.so"):
        target = folder / built.relative_to(ROOT)
        shutil.copy2(built, target)
    return folder


def one_round(tree: Path, paths: list[str], workers: int, robust: bool) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", ROUND, json.dumps(paths), str(workers), "1" if robust else "0"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tree,
        env={"PYTHONPATH": str(tree / "src"), "PATH": "/usr/bin:/bin"},
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the round failed:\n{done.stderr[-3000:]}")
    out: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--before", required=True, help="the earlier commit (A)")
    ap.add_argument("--rounds", type=int, default=4, help="rounds per tree")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--robust", action="store_true", help="with the centre crops too")
    ap.add_argument("--quick", action="store_true", help="3 SD samples only")
    args = ap.parse_args(argv)
    paths = sorted(VIDEOS.glob("*.mp4"), key=lambda p: -p.stat().st_size)
    if args.quick:
        paths = [p for p in paths if p.stem in {"chair-19-sd-bar", "pattern-sd-grey-bar"}]
    if not paths:
        print(f"no sample videos in {VIDEOS}")
        return 1
    names = [str(p) for p in paths]
    rows: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        old = worktree(args.before, Path(tmp) / "before")
        try:
            trees = {"before": old, "after": ROOT}
            print(f"load before: {load()}", flush=True)
            for r in range(args.rounds):
                order = ("before", "after") if r % 2 == 0 else ("after", "before")
                for name in order:
                    t0 = time.perf_counter()
                    got = one_round(trees[name], names, args.workers, args.robust)
                    rows[name].append(got)
                    print(
                        f"round {r + 1} {name}: {got['wall']:.1f} s wall, {got['cpu']:.1f} s "
                        f"CPU ({time.perf_counter() - t0:.0f} s with start-up), load {load()}",
                        flush=True,
                    )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                check=False,
                capture_output=True,
            )
    seconds = rows["after"][0]["seconds"]
    what = "with centre crops" if args.robust else "inside bars + halves"
    print(
        f"\n{len(paths)} videos, {seconds:.0f} s of video, bank side ({what}), "
        f"{args.workers} processes, {args.rounds} alternating rounds each:"
    )
    best: dict[str, tuple[float, float]] = {}
    for name in ("before", "after"):
        walls = [g["wall"] for g in rows[name]]
        cpus = [g["cpu"] for g in rows[name]]
        best[name] = (min(walls), min(cpus))
        rev = args.before if name == "before" else "this checkout"
        print(
            f"  {name} ({rev}): {seconds / min(walls):.1f}x real time (best; median "
            f"{seconds / statistics.median(walls):.1f}x), CPU {min(cpus):.1f} s "
            f"({seconds / min(cpus) * args.workers:.1f}x real time if {args.workers} cores "
            f"were its own), {rows[name][0]['hashes']:.0f} hashes"
        )
    print(
        f"  after / before: {best['before'][0] / best['after'][0]:.3f}x faster by wall, "
        f"{best['before'][1] / best['after'][1]:.3f}x by CPU"
    )
    print(f"load after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
