"""Video benchmark: match table over the reference sample videos, and hashing speed.

Hashes every sample video in ../shared/testdata/threatexchange/tmk/sample-videos at 1 frame
per second, prints the vPDQ percentages for every pair (same clip should match, different
clips should not) and the speed in seconds of video per second of wall time on 2 processes.

    .venv/bin/python bench/video_bench.py [--seconds-per-frame 1.0] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rempart.signals.vpdq import VideoHashes, hash_video_file, is_match, match_videos

VIDEOS = Path(__file__).resolve().parents[2] / "shared/testdata/threatexchange/tmk/sample-videos"


def clip_of(name: str) -> str:
    return name.split("-")[0]  # chair, pattern, doorknob, test


def _hash(args: tuple[Path, float]) -> tuple[str, VideoHashes]:
    path, spf = args
    return path.stem, hash_video_file(path, seconds_per_frame=spf)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds-per-frame", type=float, default=1.0)
    ap.add_argument("--limit", type=int, default=0, help="only the first N videos")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    paths = sorted(VIDEOS.glob("*.mp4"))[: args.limit or None]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        hashed = dict(pool.map(_hash, [(p, args.seconds_per_frame) for p in paths]))
    wall = time.perf_counter() - t0
    seconds = sum(h.duration or 0 for h in hashed.values())
    print(f"hashed {len(hashed)} videos, {seconds:.0f} s of video in {wall:.1f} s on "
          f"{args.workers} processes: {seconds / wall:.1f}x real time "
          f"at 1 frame per {args.seconds_per_frame:g} s")  # fmt: skip
    print("(Meta's `vpdq` package was not installed here: it needs FFmpeg development libraries;"
          " no side-by-side speed figure)")  # fmt: skip
    names = sorted(hashed)
    right = wrong = 0
    print(f"\n{'query':32} {'stored':32} {'q%':>6} {'s%':>6}  match  expected")
    for q in names:
        for s in names:
            if q >= s:
                continue
            m = match_videos(hashed[q].frames, hashed[s].frames)
            got = is_match(m) or is_match(match_videos(hashed[s].frames, hashed[q].frames))
            want = clip_of(q) == clip_of(s)
            right += got == want
            wrong += got != want
            flag = "" if got == want else "  <-- wrong"
            print(f"{q:32} {s:32} {m.query_match_percent:6.1f} {m.stored_match_percent:6.1f}"
                  f"  {'yes' if got else 'no':5}  {'yes' if want else 'no'}{flag}")  # fmt: skip
    print(f"\npairs right: {right}, wrong: {wrong}")


if __name__ == "__main__":
    main()
