"""Video benchmark: vPDQ hashing speed, the pair table over Meta's sample videos, clip location.

1. Speed: every sample video in ../shared/testdata/threatexchange/tmk/sample-videos hashed at
   1 frame per second in 2 worker processes (1 decoding thread each), as seconds of video per
   second of wall time, and the CPU time the workers spent; best of --repeat alternating
   rounds: plain vPDQ, and as `rempart scan` hashes (plus inside-bars and frame-half
   hashes). Side by side, in the same rounds, with Meta's `vpdq` package (its own FFmpeg
   decoding, 1 hashing thread) when it is installed, with the distance between its hashes
   and ours. Also the bank side (`rempart hash`: every frame, with halves), --bank-repeat
   rounds, and with --bank-threads N one video at a time with N FFmpeg threads; with
   --robust-rows, scan and bank hashing with the robust stage too (the commands' default;
   the scan side in the same alternating rounds as Meta's vpdq).
2. Pairs, end to end through a real bank: every sample video banked as `rempart hash` does
   (its own case), every sample video scanned as `rempart scan` does; a pair matches when
   either one's scan hits the other's bank entry. Same clip (same name prefix: chair,
   pattern) should match, different clips should not. For comparison, the same table with
   plain vPDQ (1 frame/s on both sides, python-threatexchange's rule).
3. Clip: a 20-second clip cut from a longer generated video (moving abstract scenes),
   re-encoded as VP8/WebM at another size, must be found and located in the bank video.

    .venv/bin/python bench/video_bench.py [--quick | --smoke] [--repeat 3] [--workers 2]
        [--bank-repeat 1] [--bank-threads 2] [--robust-rows] [--speed-only]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.scan.matcher import Hit, Matcher
from rempart.scan.video_match import match_video
from rempart.signals.pdq import hamming
from rempart.signals.vpdq import (
    BANK_DEDUPE_DISTANCE,
    BANK_SECONDS_PER_FRAME,
    VideoHashes,
    hash_video_file,
)
from rempart.signals.vpdq_match import is_match, match_video_hashes, match_videos
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared/testdata/threatexchange/tmk/sample-videos"
sys.path.insert(0, str(ROOT))  # tests.media.video_factory: generated test videos


def clip_of(name: str) -> str:
    return name.split("-")[0]  # chair, pattern, doorknob, test


def _ours(path: Path) -> tuple[str, VideoHashes]:
    return path.stem, hash_video_file(path, seconds_per_frame=1.0, threads=1)


def _scan_side(path: Path) -> tuple[str, VideoHashes]:
    return path.stem, hash_video_file(path, seconds_per_frame=1.0, threads=1, regions=True)


def _bank_side(path: Path, threads: int = 1) -> tuple[str, VideoHashes]:
    h = hash_video_file(
        path,
        seconds_per_frame=BANK_SECONDS_PER_FRAME,
        threads=threads,
        regions=True,
        dedupe_distance=BANK_DEDUPE_DISTANCE,
    )
    return path.stem, h


def _scan_side_robust(path: Path) -> tuple[str, VideoHashes]:
    h = hash_video_file(path, seconds_per_frame=1.0, threads=1, regions=True, robust="query")
    return path.stem, h


def _bank_side_robust(path: Path) -> tuple[str, VideoHashes]:
    h = hash_video_file(
        path,
        seconds_per_frame=BANK_SECONDS_PER_FRAME,
        threads=1,
        regions=True,
        dedupe_distance=BANK_DEDUPE_DISTANCE,
        robust="stored",
    )
    return path.stem, h


def _theirs(path: Path) -> tuple[str, list[tuple[int, str, int]]]:
    import vpdq  # type: ignore[import-not-found,unused-ignore]

    feats = vpdq.computeHash(str(path), seconds_per_hash=1, thread_count=1)
    return path.stem, [(f.frame_number, f.hex, f.quality) for f in feats]


# What each timed row runs on one file, in a worker process (1 decoding/hashing thread).
JOBS: dict[str, Callable[[Path], tuple[str, object]]] = {
    "vpdq": _theirs,
    "ours": _ours,
    "scan": _scan_side,
    "bank": _bank_side,
    "scan-robust": _scan_side_robust,
    "bank-robust": _bank_side_robust,
}


def _measured(job: tuple[str, Path]) -> tuple[str, object, float]:
    """One file through one row's job, with the CPU time the worker process spent on it
    (every thread of the process: FFmpeg's too)."""
    kind, path = job
    c0 = time.process_time()
    name, result = JOBS[kind](path)
    return name, result, time.process_time() - c0


def _warm(_: int) -> int:
    return 0


@dataclass
class Row:
    """One timed row: wall time of each round (all files on the pool) and CPU seconds."""

    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def line(self, seconds: float) -> str:
        return (
            f"{seconds / min(self.walls):.1f}x real time (best of {len(self.walls)}; median "
            f"{seconds / statistics.median(self.walls):.1f}x; CPU {min(self.cpus):.1f} s, "
            f"{seconds / min(self.cpus):.1f} s of video per CPU second)"
        )


def timed_rounds(kinds: list[str], paths: list[Path], workers: int, repeat: int) -> dict[str, Row]:
    """Every row's job over every file on one pool of `workers` processes, in alternating
    rounds (round 1 in the order given, round 2 reversed, ...), so that a change of load on
    the machine hits each row alike; best of `repeat` rounds."""
    rows = {k: Row() for k in kinds}
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_warm, range(workers)))  # start the workers before timing
        for r in range(repeat):
            for kind in kinds if r % 2 == 0 else kinds[::-1]:
                t0 = time.perf_counter()
                out = list(pool.map(_measured, [(kind, p) for p in paths]))
                rows[kind].walls.append(time.perf_counter() - t0)
                rows[kind].cpus.append(sum(c for _, _, c in out))
                rows[kind].results = {name: res for name, res, _ in out}
    return rows


def _bank_one_by_one(paths: list[Path], threads: int) -> tuple[float, float]:
    """The bank side as `rempart hash` runs it on her videos: one video after the other in
    this process, FFmpeg decoding on `threads` threads beside the hashing (wall, CPU)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for p in paths:
        _bank_side(p, threads=threads)
    return time.perf_counter() - t0, time.process_time() - c0


def speed(
    args: argparse.Namespace, paths: list[Path]
) -> tuple[dict[str, VideoHashes], dict[str, VideoHashes], dict[str, VideoHashes]]:
    try:
        import vpdq  # type: ignore[import-not-found,unused-ignore]  # noqa: F401

        have_vpdq = True
    except ImportError as exc:
        print(f"Meta's vpdq package: not installed here ({exc}); no side-by-side figure")
        have_vpdq = False
    print(f"load before: {_load()}")
    kinds = (["vpdq"] if have_vpdq else []) + ["ours", "scan"]
    if args.robust_rows:  # the scan side with the robust stage, in the same rounds
        kinds.append("scan-robust")
    rows = timed_rounds(kinds, paths, args.workers, args.repeat)
    ours, scan = rows["ours"].results, rows["scan"].results
    seconds = sum(h.duration or 0 for h in ours.values())
    print(
        f"{len(ours)} videos, {seconds:.0f} s of video at 1 frame/s on {args.workers} "
        f"processes, 1 thread each, {args.repeat} alternating rounds:"
    )
    print(f"Rempart vPDQ: {rows['ours'].line(seconds)}")
    print(
        "Rempart scan hashing (vPDQ + inside bars + 4 halves per frame): "
        f"{rows['scan'].line(seconds)}"
    )
    if have_vpdq:
        theirs = rows["vpdq"].results
        print(f"Meta's vpdq {_version()}: {rows['vpdq'].line(seconds)}, same files")
        labels = [("ours", "Rempart vPDQ"), ("scan", "Rempart scan hashing")]
        if args.robust_rows:
            labels.append(("scan-robust", "Rempart scan hashing with the robust stage"))
        for kind, label in labels:
            wall = min(rows["vpdq"].walls) / min(rows[kind].walls)
            cpu = min(rows["vpdq"].cpus) / min(rows[kind].cpus)
            print(f"  {label} / Meta's vpdq: {wall:.2f}x (wall), {cpu:.2f}x (CPU)")
        same = total = 0
        dists: list[int] = []
        for name, feats in theirs.items():
            mine = {f.frame: f for f in ours[name].frames}
            for number, hex_, quality in feats:
                total += 1
                if number in mine:
                    same += 1
                    if quality >= 50 and mine[number].quality >= 50:
                        dists.append(hamming(hex_, mine[number].pdq_hex))
        print(
            f"  sampled frames: vpdq {total}, ours (after deduplication) "
            f"{sum(len(h.frames) for h in ours.values())}, same frame numbers {same}; "
            f"distance ours vs vpdq: max {max(dists, default=0)}, "
            f"mean {np.mean(dists) if dists else 0:.2f}"
        )
    bank_rows = timed_rounds(["bank"], paths, args.workers, args.bank_repeat)
    bank = bank_rows["bank"].results
    n_bank = sum(
        len(h.frames) + len(h.trimmed_frames) + sum(map(len, h.regions.values()))
        for h in bank.values()
    )
    print(
        f"Rempart bank hashing (`rempart hash`: every frame, deduplicated within "
        f"{BANK_DEDUPE_DISTANCE} bits, with halves), {args.workers} processes: "
        f"{bank_rows['bank'].line(seconds)}; {n_bank} hashes for {seconds:.0f} s "
        f"({n_bank / seconds:.0f} per second of video)"
    )
    if args.robust_rows:  # what the commands run by default: with the robust stage too
        robust = timed_rounds(["bank-robust"], paths, args.workers, args.bank_repeat)
        print(
            "With the robust stage (issue 21; `rempart scan` and `rempart hash` by default), "
            f"{args.workers} processes: scan side (plus rotations/flips, inside a frame, "
            f"insets; in the rounds above) {rows['scan-robust'].line(seconds)}; bank side "
            f"(plus centre crops) {robust['bank-robust'].line(seconds)}"
        )
    if args.bank_threads:
        wall, cpu = _bank_one_by_one(paths, args.bank_threads)
        print(
            f"Rempart bank hashing, one video after the other in one process, FFmpeg "
            f"decoding on {args.bank_threads} threads: {seconds / wall:.1f}x real time "
            f"(CPU {cpu:.1f} s)"
        )
    print(f"load after: {_load()}")
    return ours, scan, bank


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _version() -> str:
    from importlib.metadata import version

    try:
        return version("vpdq")
    except Exception:  # noqa: BLE001
        return "?"


def plain_pairs(hashed: dict[str, VideoHashes]) -> None:
    names = sorted(hashed)
    right = wrong = 0
    print(f"\n{'query':30} {'stored':30} {'q%':>6} {'s%':>6} {'bars q%':>7}  match  same clip")
    for i, q in enumerate(names):
        for s in names[i + 1 :]:
            plain = match_videos(hashed[q].frames, hashed[s].frames)
            both = [
                match_video_hashes(hashed[q], hashed[s]),
                match_video_hashes(hashed[s], hashed[q]),
            ]
            got = any(is_match(m) for m in both)
            want = clip_of(q) == clip_of(s)
            right += got == want
            wrong += got != want
            if not (want or got or plain.query_match_percent or plain.stored_match_percent):
                continue  # different clips, nothing in common: not listed
            flag = "" if got == want else "  <-- wrong"
            print(
                f"{q:30} {s:30} {plain.query_match_percent:6.1f} "
                f"{plain.stored_match_percent:6.1f} {both[0].query_match_percent:7.1f}  "
                f"{'yes' if got else 'no':5}  {'yes' if want else 'no'}{flag}"
            )
    print(
        f"plain vPDQ pairs right: {right}, wrong: {wrong} (of {right + wrong}; pairs of "
        "different clips with 0% both ways are not listed)"
    )


def real_bank(folder: Path, bank_side: dict[str, VideoHashes]) -> Matcher:
    """A real SQLite bank holding each video under its own case, as `rempart bank import`."""
    db = Database(f"sqlite:///{folder / 'bench.db'}")
    index = BankIndex(db, folder / "home")
    with db.session() as s:
        repository.create_bank(s, "bench")
    consent = ConsentRecord.parse(
        {"given_by": "bench", "given_at": "2026-11-22", "purpose": "benchmark"}, "bench"
    )
    for name, h in bank_side.items():
        sub = Submission(items=[SubmissionItem.from_video(h)], consent=consent)
        import_submission(index, "bench", sub, case_number=name)
    return Matcher(db, index.load())


def scan_hits(matcher: Matcher, scan_side: dict[str, VideoHashes]) -> dict[str, dict[str, Hit]]:
    """Per scanned video, the bank videos (by case = name) it matches."""
    return {q: {h.case or "": h for h in match_video(matcher, v)} for q, v in scan_side.items()}


def pairs(matcher: Matcher, scan_side: dict[str, VideoHashes]) -> int:
    hits = scan_hits(matcher, scan_side)
    names = sorted(scan_side)
    right = wrong = 0
    print(
        f"\nEnd to end (bank every frame + halves, scan at 1 frame/s):\n{'video a':30} "
        f"{'video b':30} {'a in b':>12} {'b in a':>12}  match  same clip"
    )

    def cell(h: Hit | None) -> str:
        if h is None or not h.details:
            return "-"
        return f"{h.details['query_percent']:.0f}%/{h.details.get('stored_percent', 0):.0f}%"

    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ab, ba = hits[a].get(b), hits[b].get(a)
            got, want = ab is not None or ba is not None, clip_of(a) == clip_of(b)
            right += got == want
            wrong += got != want
            if not (want or got):
                continue
            flag = "" if got == want else "  <-- wrong"
            print(
                f"{a:30} {b:30} {cell(ab):>12} {cell(ba):>12}  {'yes' if got else 'no':5}  "
                f"{'yes' if want else 'no'}{flag}"
            )
    self_hits = sum(n in hits[n] for n in names)
    print(
        f"pairs right: {right}, wrong: {wrong} (of {right + wrong}); each video finds "
        f"itself: {self_hits}/{len(names)}; cells: share of the scanned video found / share "
        "of the bank video's seconds found; pairs of different clips that do not match are "
        "not listed"
    )
    return wrong


def clip_location(long_s: int) -> bool:
    from tests.media.video_factory import scene_frames, write_video

    frames = scene_frames(21, long_s, 10, (320, 240))
    start = long_s // 2 - 10
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, stored = _bank_side(write_video(folder / "long.mp4", frames))
        cut = [np.ascontiguousarray(f[::2, ::2]) for f in frames[start * 10 : (start + 20) * 10]]
        _, query = _scan_side(write_video(folder / "clip.webm", cut, codec="libvpx"))
        _, other = _scan_side(
            write_video(folder / "other.mp4", scene_frames(77, 20, 10, (320, 240)))
        )
        matcher = real_bank(folder, {"long": stored})
        hits = scan_hits(matcher, {"clip": query, "other": other})
    m = hits["clip"].get("long")
    ranges = m.details["stored_ranges"] if m is not None and m.details else []
    print(
        f"\nclip: 20 s cut at {start} s from a {long_s} s generated video, re-encoded "
        f"VP8/WebM at half size: found {m is not None}, "
        f"{m.details if m is not None else ''}; located at {ranges} (truth [{start}, "
        f"{start + 20}]); an unrelated 20 s video found: {bool(hits['other'])}"
    )
    return (
        m is not None
        and not hits["other"]
        and bool(ranges)
        and abs(ranges[0][0] - start) <= 1.5
        and abs(ranges[-1][1] - (start + 20)) <= 1.5
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 videos, 1 run, a 60 s long video")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="the test suite's run: 3 short videos (one same-clip pair), 1 run, a 30 s long video",
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bank-repeat", type=int, default=1, help="rounds of the bank side")
    ap.add_argument(
        "--bank-threads",
        type=int,
        default=0,
        help="also time the bank side one video at a time with this many FFmpeg threads",
    )
    ap.add_argument("--speed-only", action="store_true", help="only the speed figures")
    ap.add_argument(
        "--robust-rows",
        action="store_true",
        help="also time scan and bank hashing with the robust stage (the commands' default)",
    )
    ap.add_argument(
        "--edits",
        action="store_true",
        help="also the robust stage's edits (mirrored, vertical frame, crop, picture-in-"
        "picture): bench/video_robust_bench.py",
    )
    args = ap.parse_args(argv)
    paths = sorted(VIDEOS.glob("*.mp4"), key=lambda p: -p.stat().st_size)  # longest first
    if args.quick:
        args.repeat = 1
        paths = [
            p
            for p in paths
            if p.stem in {"chair-20-sd-bar", "chair-19-sd-bar", "pattern-sd-grey-bar"}
        ]
    if args.smoke:  # every step and both answers (same clip, other clip) on ~18 s of video
        args.repeat = 1
        paths = [
            p
            for p in paths
            if p.stem
            in {"pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar", "doorknob-hd-no-bar"}
        ]
    if not paths:
        print(f"no sample videos in {VIDEOS}")
        return 1
    plain, scan_side, bank_side = speed(args, paths)
    if args.speed_only:
        return 0
    plain_pairs(plain)
    with tempfile.TemporaryDirectory() as tmp:
        wrong = pairs(real_bank(Path(tmp), bank_side), scan_side)
    ok = clip_location(30 if args.smoke else 60 if args.quick else 180)
    print("clip found and located" if ok else "clip NOT found or located")
    if args.edits:  # issue 21 item 2: the edits over the sample clips, their own table
        import video_robust_bench

        wrong += video_robust_bench.main(["--quick"] if args.quick or args.smoke else [])
    return 0 if ok and not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())
