"""Video benchmark: vPDQ hashing speed, the pair table over Meta's sample videos, clip location.

1. Speed: every sample video in ../shared/testdata/threatexchange/tmk/sample-videos hashed at
   1 frame per second in 2 worker processes (1 decoding thread each), as seconds of video per
   second of wall time; best of --repeat runs. Side by side with Meta's `vpdq` package (its
   own FFmpeg hasher) when it is installed, with the distance between its hashes and ours.
2. Pairs: every pair of sample videos, matched both ways (plain vPDQ, and inside black
   bars); a pair matches when either direction passes `is_match`. Same clip (same name
   prefix: chair, pattern) should match, different clips should not.
3. Clip: a 20-second clip cut from a longer generated video (moving abstract scenes),
   re-encoded as VP8/WebM at another size, must be found and located.

    .venv/bin/python bench/video_bench.py [--quick] [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from rempart.signals.pdq import hamming
from rempart.signals.vpdq import (
    VideoHashes,
    hash_video_file,
    is_match,
    match_video_hashes,
    match_videos,
)

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared/testdata/threatexchange/tmk/sample-videos"
sys.path.insert(0, str(ROOT))  # tests.media.video_factory: generated test videos


def clip_of(name: str) -> str:
    return name.split("-")[0]  # chair, pattern, doorknob, test


def _ours(path: Path) -> tuple[str, VideoHashes]:
    return path.stem, hash_video_file(path, seconds_per_frame=1.0, threads=1)


def _theirs(path: Path) -> tuple[str, list[tuple[int, str, int]]]:
    import vpdq  # type: ignore[import-not-found]

    feats = vpdq.computeHash(str(path), seconds_per_hash=1, thread_count=1)
    return path.stem, [(f.frame_number, f.hex, f.quality) for f in feats]


def _warm(_: int) -> int:
    return 0


def timed(fn: object, paths: list[Path], workers: int, repeat: int) -> tuple[dict, list[float]]:
    walls: list[float] = []
    out: dict = {}
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_warm, range(workers)))  # start the workers before timing
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = dict(pool.map(fn, paths))  # type: ignore[arg-type]
            walls.append(time.perf_counter() - t0)
    return out, walls


def speed(args: argparse.Namespace, paths: list[Path]) -> dict[str, VideoHashes]:
    ours, walls = timed(_ours, paths, args.workers, args.repeat)
    seconds = sum(h.duration or 0 for h in ours.values())
    best, median = seconds / min(walls), seconds / statistics.median(walls)
    print(f"Rempart: {len(ours)} videos, {seconds:.0f} s of video at 1 frame/s on "
          f"{args.workers} processes: {best:.1f}x real time (best of {args.repeat}; "
          f"median {median:.1f}x)")  # fmt: skip
    try:
        import vpdq  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as exc:
        print(f"Meta's vpdq package: not installed here ({exc}); no side-by-side figure")
        return ours
    theirs, walls = timed(_theirs, paths, args.workers, args.repeat)
    print(f"Meta's vpdq {_version()}: {seconds / min(walls):.1f}x real time (best of "
          f"{args.repeat}; median {seconds / statistics.median(walls):.1f}x), same files, "
          f"1 hashing thread per process")  # fmt: skip
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
    print(f"  sampled frames: vpdq {total}, ours (after deduplication) "
          f"{sum(len(h.frames) for h in ours.values())}, same frame numbers {same}; "
          f"distance ours vs vpdq: max {max(dists, default=0)}, "
          f"mean {np.mean(dists) if dists else 0:.2f}")  # fmt: skip
    return ours


def _version() -> str:
    from importlib.metadata import version

    try:
        return version("vpdq")
    except Exception:  # noqa: BLE001
        return "?"


def pairs(hashed: dict[str, VideoHashes]) -> None:
    names = sorted(hashed)
    right = wrong = 0
    print(f"\n{'query':30} {'stored':30} {'q%':>6} {'s%':>6} {'bars q%':>7}  match  same clip")
    for i, q in enumerate(names):
        for s in names[i + 1 :]:
            plain = match_videos(hashed[q].frames, hashed[s].frames)
            both = [match_video_hashes(hashed[q], hashed[s]),
                    match_video_hashes(hashed[s], hashed[q])]  # fmt: skip
            got = any(is_match(m) for m in both)
            want = clip_of(q) == clip_of(s)
            right += got == want
            wrong += got != want
            if not (want or got or plain.query_match_percent or plain.stored_match_percent):
                continue  # different clips, nothing in common: not listed
            flag = "" if got == want else "  <-- wrong"
            print(f"{q:30} {s:30} {plain.query_match_percent:6.1f} "
                  f"{plain.stored_match_percent:6.1f} {both[0].query_match_percent:7.1f}  "
                  f"{'yes' if got else 'no':5}  {'yes' if want else 'no'}{flag}")  # fmt: skip
    print(f"pairs right: {right}, wrong: {wrong} (of {right + wrong}; pairs of different "
          "clips with 0% both ways are not listed)")  # fmt: skip


def clip_location(long_s: int) -> tuple[bool, tuple[float, float] | None]:
    from tests.media.video_factory import scene_frames, write_video

    frames = scene_frames(21, long_s, 10, (320, 240))
    start = long_s // 2 - 10
    with tempfile.TemporaryDirectory() as tmp:
        stored = hash_video_file(write_video(Path(tmp) / "long.mp4", frames))
        cut = [np.ascontiguousarray(f[::2, ::2]) for f in frames[start * 10 : (start + 20) * 10]]
        query = hash_video_file(write_video(Path(tmp) / "clip.webm", cut, codec="libvpx"))
        other = hash_video_file(
            write_video(Path(tmp) / "other.mp4", scene_frames(77, 20, 10, (320, 240)))
        )
    m = match_video_hashes(query, stored)
    n = match_video_hashes(other, stored)
    located = m.stored_ranges[0] if m.stored_ranges else None
    print(f"\nclip: 20 s cut at {start} s from a {long_s} s generated video, re-encoded "
          f"VP8/WebM at half size: q% {m.query_match_percent:.1f}, s% "
          f"{m.stored_match_percent:.1f}, match {is_match(m)}, located at {m.stored_ranges} "
          f"(truth [{start}, {start + 20}]); an unrelated 20 s video: q% "
          f"{n.query_match_percent:.1f}, match {is_match(n)}")  # fmt: skip
    ok = (
        is_match(m)
        and not is_match(n)
        and located is not None
        and abs(located[0] - start) <= 1.5
        and abs(m.stored_ranges[-1][1] - (start + 20)) <= 1.5
    )
    return ok, located


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 videos, 1 run, a 60 s long video")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    paths = sorted(VIDEOS.glob("*.mp4"), key=lambda p: -p.stat().st_size)  # longest first
    if args.quick:
        args.repeat = 1
        paths = [p for p in paths if p.stem in {"chair-20-sd-bar", "chair-19-sd-bar",
                                                "pattern-sd-grey-bar"}]  # fmt: skip
    if not paths:
        print(f"no sample videos in {VIDEOS}")
        return 1
    hashed = speed(args, paths)
    pairs(hashed)
    ok, _ = clip_location(60 if args.quick else 180)
    print("clip found and located" if ok else "clip NOT found or located")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
