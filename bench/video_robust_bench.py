"""Video robust stage benchmark (issue 21 item 2): re-posted copies that plain vPDQ misses.

Each sample video (../shared/testdata/threatexchange/tmk/sample-videos) is banked as `rempart
hash` does (every frame, halves, centre crops; its own case, through a real SQLite bank),
then each is re-posted with each edit of tests/media/video_edits.py (mirrored; inside a
blurred vertical 9:16 frame at 70% of its width; cropped 10% a side at 150 kbit/s;
picture-in-picture: at 1/4 of the area in the top right corner of another, generated, video)
and scanned as `rempart scan` does (1 frame/s, with the robust stage). A copy is found when it
hits a bank entry of the same clip (chair, pattern, doorknob...); a hit on another clip is a
false match. Unrelated generated videos (--unrelated, 4 to 12 s: short clips meet the
loosest rule), edited the same way, are negatives too: any hit is false. Same-scene
negatives: chair-orig's first 9 s banked on their own, its footage from 12 s on re-posted
as it is and with each edit (the same room and chair as the camera moves): any hit is false.
For each kind of negative, the closest robust-stage frame hash to a wrong entry's hash (bits)
says how near it came before the consistency rule. For comparison, the same copies scanned
without the robust stage.

Cost: the added hashing time per video, scan side (1 frame/s) and bank side (every frame),
with and without the stage in alternating rounds (best of --repeat), same process.

    .venv/bin/python bench/video_robust_bench.py [--quick] [--repeat 2] [--json bench/out/x.json]
        [--cache DIR]   (hashes and videos kept in DIR and reused: the decision reruns in
                         seconds) [--rescan] (with --cache: the copies hashed again, hers kept)
        [--only NAME ...] (these sample videos) [--unrelated 8]

The copy without the stage is the scan with it less the stage's streams (the same frames, bars
and halves), so each copy is decoded once. After the summary, a per-clip table (markdown).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.media: the edits and generated videos
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from tests.media.video_edits import EDITS, decoded, edit_video  # noqa: E402
from tests.media.video_factory import scene_frames, write_video  # noqa: E402

from rempart.index.binary_index import hex_to_array  # noqa: E402
from rempart.scan.video_match import ROBUST_THRESHOLD, match_video  # noqa: E402
from rempart.signals.pdq import MIN_QUALITY  # noqa: E402
from rempart.signals.vpdq import (  # noqa: E402
    BANK_DEDUPE_DISTANCE,
    BANK_SECONDS_PER_FRAME,
    REGIONS,
    VideoHashes,
    VpdqFrame,
    hash_video_file,
)
from video_bench import VIDEOS, clip_of, real_bank  # noqa: E402

QUICK = ("chair-orig-22-sd-bar", "chair-19-sd-bar", "pattern-hd-no-bar", "doorknob-hd-no-bar")


def bank_side(path: Path, robust: str | None = "stored") -> VideoHashes:
    return hash_video_file(
        path,
        seconds_per_frame=BANK_SECONDS_PER_FRAME,
        dedupe_distance=BANK_DEDUPE_DISTANCE,
        regions=True,
        robust=robust,
        threads=1,
    )


def scan_side(path: Path, robust: str | None = "query") -> VideoHashes:
    return hash_video_file(path, regions=True, robust=robust, threads=1)


def _bank_job(path: Path) -> tuple[str, VideoHashes]:
    return path.stem, bank_side(path)


def without_stage(robust: VideoHashes) -> VideoHashes:
    """The scan without the stage: the same frames, inside-bars hashes and halves (each
    stream is kept on its own, so they are what a scan without the stage computes), less
    the stage's streams."""
    return replace(robust, regions={k: v for k, v in robust.regions.items() if k in REGIONS})


def _edit_job(job: tuple[Path, str, Path]) -> tuple[str, str, VideoHashes, VideoHashes]:
    """Make one edited copy and scan it with and without the stage (one decoding)."""
    source, edit, out = job
    if not out.exists():  # kept in --cache DIR/edited: --rescan hashes them again
        other = None
        if edit == "picture-in-picture":  # over a generated video of the same size
            first = next(decoded(source)[0])
            other = scene_frames(91, 8, 10, (first.shape[1], first.shape[0]))
        part = out.with_name(f"part-{out.name}")  # a run cut off leaves no half-written copy
        edit_video(source, edit, part, other=other)
        part.rename(out)
    robust = scan_side(out)
    return source.stem, edit, robust, without_stage(robust)


def _generated(folder: Path, n: int) -> list[Path]:
    """Unrelated videos (moving generated scenes) in the sizes of the samples, 4 to 12 s: the
    short-clip rule (docs/video.md) is the loosest for clips of a few seconds."""
    sizes = [(480, 720), (1280, 720), (720, 480)]
    seconds = [12, 5, 8, 4]
    return [
        write_video(
            folder / f"unrelated-{i}.mp4",
            scene_frames(300 + i, seconds[i % len(seconds)], 10, sizes[i % len(sizes)]),
        )
        for i in range(n)
    ]


# Same-scene negatives: her video's first seconds banked, the same footage from a later moment
# re-posted (every edit, and as it is): the same room and chair seen from elsewhere as the
# camera moves, which must not match her entry.
SAME_SCENE = ("chair-orig-22-sd-bar", 9.0, 12.0)  # banked [0, 9) s; the copy from 12 s on


def _words(hexes: list[str]) -> np.ndarray:
    return hex_to_array(hexes).view(np.uint64) if hexes else np.zeros((0, 4), np.uint64)


def _usable(h: VideoHashes, robust_only: bool) -> list[str]:
    streams = [] if robust_only else [h.frames, h.trimmed_frames]
    streams += [fs for name, fs in h.regions.items() if not robust_only or name not in REGIONS]
    return [f.pdq_hex for fs in streams for f in fs if f.quality >= MIN_QUALITY]


def closest(stored: list[VideoHashes], copies: list[VideoHashes]) -> tuple[int, int]:
    """(fewest bits, pairs within ROBUST_THRESHOLD) between any robust-stage hash of the
    copies (rotations/flips, inside a frame, insets) and any hash of the stored videos (frames,
    inside bars, halves, crops): how near a negative came, frame by frame, before the
    consistency rule."""
    bank = _words([x for h in stored for x in _usable(h, robust_only=False)])
    best, near = 256, 0
    for h in copies:
        q = _words(_usable(h, robust_only=True))
        for i in range(0, len(q), 256):
            d = np.bitwise_count(q[i : i + 256, None, :] ^ bank[None, :, :]).sum(axis=2)
            if d.size:
                best = min(best, int(d.min()))
                near += int((d <= ROBUST_THRESHOLD).sum())
    return best, near


def _part(source: Path, start: float, end: float, out: Path) -> Path:
    """Frames [start, end) s of `source`, re-encoded (kept when already made)."""
    if not out.exists():
        frames, fps = decoded(source)
        keep = [f for i, f in enumerate(frames) if start <= i / fps < end]
        part = out.with_name(f"part-{out.name}")
        write_video(part, keep, fps=round(fps))
        part.rename(out)
    return out


def same_scene(
    folder: Path, work: Path, cache: Path | None, pool: ProcessPoolExecutor
) -> tuple[int, int, list[str]]:
    """(copies scanned, false matches, their lines) of the same-scene negatives: the videos
    in `folder`, the bank in `work`."""
    name, banked_until, copy_from = SAME_SCENE
    source = VIDEOS / f"{name}.mp4"
    first = _part(source, 0.0, banked_until, folder / "samescene-first.mp4")
    later = _part(source, copy_from, 1e9, folder / "samescene-later.mp4")
    (bank,) = _hashed(cache, ["bank-samescene-first"], [first], _bank_job, pool)
    jobs = [(later, e, folder / f"samescene-later-{i}.mp4") for i, e in enumerate(EDITS)]
    scanned = _hashed(cache, [f"scan-samescene-{i}" for i in range(len(EDITS))], jobs,
                      _edit_job, pool)  # fmt: skip
    (work / "samescene").mkdir()
    matcher = real_bank(work / "samescene", {bank[0]: bank[1]})
    copies: list[tuple[str, VideoHashes]] = [("as it is", scan_side(later))]
    for _, edit, robust, plain in scanned:
        copies += [(edit, robust), (f"{edit}, without stage", plain)]
    false = 0
    lines = []
    for label, hashes in copies:
        hits = match_video(matcher, hashes)
        false += len(hits)
        lines.append(
            f"same scene ({name} [{copy_from:.0f} s, end) against its [0, {banked_until:.0f}) s) "
            f"{label:34} "
            + (", ".join(f"{h.case}:{(h.details or {}).get('method')}" for h in hits) or "-")
            + ("  <-- FALSE MATCH" if hits else "")
        )
    best, near = closest([bank[1]], [h for _, h in copies])
    lines.append(
        f"same scene: closest robust-stage frame {best} bits from her first seconds' hashes; "
        f"{near} frame pairs within {ROBUST_THRESHOLD}"
    )
    return len(copies), false, lines


def cost(paths: list[Path], repeat: int) -> dict[str, float]:
    """Seconds of hashing per second of video, with and without the stage (alternating
    rounds, best of `repeat`), scan side and bank side, this process."""
    out: dict[str, float] = {}
    seconds = 0.0
    for side, fn, robust in (("scan", scan_side, "query"), ("bank", bank_side, "stored")):
        best = {"plain": float("inf"), "robust": float("inf")}
        for _ in range(repeat):
            for label, r in (("plain", None), ("robust", robust)):
                t0 = time.process_time()
                total = 0.0
                for p in paths:
                    total += fn(p, r).duration or 0.0
                best[label] = min(best[label], time.process_time() - t0)
                seconds = total
        out[f"{side}_plain_cpu_per_video_s"] = best["plain"] / seconds
        out[f"{side}_robust_cpu_per_video_s"] = best["robust"] / seconds
        out[f"{side}_added"] = best["robust"] / best["plain"] - 1
    out["video_seconds"] = seconds
    return out


def _dump(h: VideoHashes) -> dict[str, object]:
    def frames(fs: tuple[VpdqFrame, ...]) -> list[list[object]]:
        return [[f.frame, f.quality, f.pdq_hex, f.timestamp] for f in fs]

    return {
        "md5": h.md5,
        "sha256": h.sha256,
        "frames": frames(h.frames),
        "duration": h.duration,
        "width": h.width,
        "height": h.height,
        "trimmed": frames(h.trimmed_frames),
        "regions": {k: frames(v) for k, v in h.regions.items()},
        "spf": h.seconds_per_frame,
    }


def _load(d: dict[str, Any]) -> VideoHashes:
    def frames(fs: list[list[Any]]) -> tuple[VpdqFrame, ...]:
        return tuple(VpdqFrame(*f) for f in fs)

    regions = {k: frames(v) for k, v in d["regions"].items()}
    return VideoHashes(
        d["md5"], d["sha256"], frames(d["frames"]), d["duration"], d["width"], d["height"],
        frames(d["trimmed"]), (), regions, d["spf"],
    )  # fmt: skip


def _hashed(
    cache: Path | None, keys: list[str], jobs: list[Any], fn: Any, pool: ProcessPoolExecutor
) -> list[Any]:
    """fn over jobs in the pool; with `cache`, each result's hashes kept in cache/KEY.json
    and read from there when present (the decision rerun on the same hashes without
    decoding, editing or hashing again)."""
    files = [cache / f"{key}.json" if cache else None for key in keys]
    todo = [i for i, f in enumerate(files) if f is None or not f.exists()]
    done = dict(zip(todo, pool.map(fn, [jobs[i] for i in todo]), strict=True))
    out = []
    for i, f in enumerate(files):
        if i in done:
            result = done[i]
            if f is not None:
                f.write_text(json.dumps([_dump(v) if isinstance(v, VideoHashes) else v
                                         for v in result]))  # fmt: skip
        else:
            assert f is not None
            result = tuple(_load(v) if isinstance(v, dict) else v
                           for v in json.loads(f.read_text()))  # fmt: skip
        out.append(result)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"{len(QUICK)} sample videos")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--unrelated", type=int, default=8, help="generated negatives")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="keep the hashes (JSON) and the generated and edited videos in this folder, and "
        "reuse them",
    )
    ap.add_argument(
        "--rescan",
        action="store_true",
        help="with --cache: hash the edited copies again (the scan side changed), keeping her "
        "videos' hashes",
    )
    ap.add_argument("--only", nargs="*", default=None, help="these sample videos (names)")
    args = ap.parse_args(argv)
    paths = sorted(VIDEOS.glob("*.mp4"))
    if args.quick:
        paths = [p for p in paths if p.stem in QUICK]
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
    if not paths:
        print(f"no sample videos in {VIDEOS}")
        return 1
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.cache:
            (args.cache / "generated").mkdir(parents=True, exist_ok=True)
            negatives = sorted((args.cache / "generated").glob("unrelated-*.mp4"))
            if len(negatives) != args.unrelated:  # made again: their copies too
                for old in [*args.cache.glob("scan-unrelated-*.json"),
                            *args.cache.glob("edited/unrelated-*.mp4")]:  # fmt: skip
                    old.unlink()
                negatives = _generated(args.cache / "generated", args.unrelated)
            edited = args.cache / "edited"
            edited.mkdir(exist_ok=True)
            if args.rescan:
                for old in args.cache.glob("scan-*.json"):
                    old.unlink()
        else:
            negatives = _generated(folder, args.unrelated)
            edited = folder
        sources = paths + negatives
        jobs = [(p, e, edited / f"{p.stem}-{i}.mp4") for p in sources for i, e in enumerate(EDITS)]
        with ProcessPoolExecutor(args.workers) as pool:
            bank = {
                name: h
                for p, (name, h) in zip(
                    paths,
                    _hashed(args.cache, [f"bank-{p.stem}" for p in paths], paths, _bank_job, pool),
                    strict=True,
                )
            }
            keys = [f"scan-{p.stem}-{i}" for p in sources for i in range(len(EDITS))]
            scanned = _hashed(args.cache, keys, jobs, _edit_job, pool)
            scene = same_scene(edited, folder, args.cache, pool)
        matcher = real_bank(folder, bank)
        found: Counter[str] = Counter()
        plain_found: Counter[str] = Counter()
        methods: dict[str, Counter[str]] = {e: Counter() for e in EDITS}
        false: Counter[str] = Counter()
        total: Counter[str] = Counter()
        rows = []
        usable: dict[str, int] = {}
        for name, edit, robust, plain in scanned:
            unrelated = name.startswith("unrelated-")
            if edit == next(iter(EDITS)):  # the mirrored copy: her frames' quality
                usable[name] = sum(f.quality >= MIN_QUALITY for f in robust.frames)
            hits = match_video(matcher, robust)
            right = [h for h in hits if not unrelated and clip_of(h.case or "") == clip_of(name)]
            wrong = [h for h in hits if h not in right]
            plain_right = [
                h
                for h in match_video(matcher, plain)
                if not unrelated and clip_of(h.case or "") == clip_of(name)
            ]
            false[edit] += len(wrong)
            if not unrelated:
                total[edit] += 1
                found[edit] += bool(right)
                plain_found[edit] += bool(plain_right)
                for h in right[:1]:
                    methods[edit][str((h.details or {}).get("method"))] += 1
            rows.append(
                {
                    "video": name,
                    "edit": edit,
                    "found": bool(right),
                    "found_without_stage": bool(plain_right),
                    "hits": [
                        {"case": h.case, "method": (h.details or {}).get("method")} for h in hits
                    ],
                }
            )
            flag = "" if unrelated or right else "  <-- missed"
            flag += "  <-- FALSE MATCH" if wrong else ""
            print(
                f"{name:32} {edit:22} "
                + ", ".join(f"{h.case}:{(h.details or {}).get('method')}" for h in hits)
                + flag
            )
    print(
        f"\n{len(paths)} sample videos banked, each re-posted 4 ways, and {args.unrelated} "
        f"unrelated generated videos edited the same way (load {load[0]:.1f})\n"
    )
    negatives = [robust for name, _, robust, _ in scanned if name.startswith("unrelated-")]
    margin = {"unrelated": closest(list(bank.values()), negatives)}
    cross = [
        closest(
            [h for other, h in bank.items() if clip_of(other) != clip],
            [r for name, _, r, _ in scanned if name in bank and clip_of(name) == clip],
        )
        for clip in sorted({clip_of(name) for name in bank})
    ]
    margin["other clips"] = (min(b for b, _ in cross), sum(n for _, n in cross))
    for label, (best, near) in margin.items():
        print(
            f"{label}: closest robust-stage frame {best} bits from a wrong entry's hash; "
            f"{near} frame pairs within {ROBUST_THRESHOLD}"
        )
    print("\n".join(scene[2]))
    print(f"same-scene negatives: {scene[0]} copies, {scene[1]} false matches\n")
    print(f"{'edit':22} {'found':>7} {'without stage':>14} {'false':>6}  methods")
    for edit in EDITS:
        print(
            f"{edit:22} {found[edit]:>3}/{total[edit]:<3} {plain_found[edit]:>9}/{total[edit]:<4} "
            f"{false[edit]:>6}  " + ", ".join(f"{m} {n}" for m, n in methods[edit].most_common())
        )
    # per clip: which edits found it (markdown, for docs/video.md), and how many usable frames
    # (quality >= 50) its mirrored copy had at 1 frame/s
    print("\n| video | frames | " + " | ".join(EDITS) + " |")
    print("|---|---:|" + "---|" * len(EDITS))
    for p in paths:
        mine = [r for r in rows if r["video"] == p.stem]
        cells = ["found" if r["found"] else "**missed**" for r in mine]
        print(f"| {p.stem} | {usable[p.stem]} | " + " | ".join(cells) + " |")
    figures: dict[str, float] = {}
    if args.repeat > 0:  # --repeat 0: no cost measurement
        figures = cost(paths[:2], args.repeat)
        print(
            f"\ncost ({figures['video_seconds']:.0f} s of video, CPU per second of video, best of "
            f"{args.repeat}): scan side {1000 * figures['scan_plain_cpu_per_video_s']:.1f} -> "
            f"{1000 * figures['scan_robust_cpu_per_video_s']:.1f} ms "
            f"(+{100 * figures['scan_added']:.0f}%), "
            f"bank side {1000 * figures['bank_plain_cpu_per_video_s']:.0f} -> "
            f"{1000 * figures['bank_robust_cpu_per_video_s']:.0f} ms "
            f"(+{100 * figures['bank_added']:.0f}%); "
            f"load {os.getloadavg()[0]:.1f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "load": load,
                    "found": found,
                    "found_without_stage": plain_found,
                    "total": total,
                    "false": false,
                    "methods": methods,
                    "cost": figures,
                    "rows": rows,
                    "same_scene": {"copies": scene[0], "false": scene[1], "lines": scene[2]},
                    "closest": margin,
                },
                indent=1,
            )
        )
    return 0 if not sum(false.values()) and not scene[1] else 1


if __name__ == "__main__":
    raise SystemExit(main())
