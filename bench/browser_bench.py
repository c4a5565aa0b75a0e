"""Her hashing page's speed (issue 13), measured beside the CLI on the same files, in one run.

The page is driven in Debian's chromium by rempart.web.hashpage.driver (the real page as
`rempart hash-page` writes it, opened from file://, its own pool of workers: one per core
but one, at most 4); the CLI is `rempart hash FILES --out` in a subprocess (all cores, Python
start-up included) and, to separate Python's start-up, the in-process hashing the CLI uses
(scan.pipeline.hash_refs, all cores).

Photos: generated photo-like scenes (rempart.samples.photo_like, enlarged to the size), saved
as JPEG at 1, 12 and 48 Mpx, hashed with and without the robust stage. For each: time per
photo, the page's time as a multiple of the CLI's (target: within 2x), and how the page
behaved while hashing: the longest gap between two animation frames and the longest main-
thread task (a frozen page shows as seconds there; "none": no task over 50 ms), the main
thread's peak JS heap, and the tab's peak memory (the renderer process's peak resident
size; each size runs in a fresh browser so that the peak is its own).

Videos: the ThreatExchange TMK sample videos of ../shared/testdata and a generated one,
hashed as a bank keeps them (every frame, halves, inside bars) by the page and the CLI:
hashing speed as a multiple of real time (a 60 s video hashed in 20 s: 3.0x).

    .venv/bin/python bench/browser_bench.py [--quick] [--sizes 1,12,48] [--count 4]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import psutil

from rempart.samples import photo_like, scene_frames, write_video
from rempart.scan.pipeline import ScanOptions, collect, hash_refs
from rempart.signals.vpdq import BANK_DEDUPE_DISTANCE, BANK_SECONDS_PER_FRAME
from rempart.web.hashpage.driver import (
    HashPageRun,
    built_page,
    chromium_missing,
    cores,
    launch_chromium,
)

ROOT = Path(__file__).resolve().parents[1]
TMK = ROOT.parent / "shared/testdata/threatexchange/tmk/sample-videos"
BIN = Path(sys.executable).parent / "rempart"
DESKTOP = {"width": 1200, "height": 900}
# Watches the page while it hashes: animation-frame gaps, long main-thread tasks, JS heap.
MONITOR = """() => {
  const b = { maxGap: 0, longest: 0, frames: 0, heap: 0, heapLimit: 0 };
  window.__bench = b;
  let last = performance.now();
  const tick = (t) => { b.maxGap = Math.max(b.maxGap, t - last); last = t; b.frames++;
                        requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) b.longest = Math.max(b.longest, e.duration);
    }).observe({ type: "longtask" });
  } catch (e) { b.longest = -1; }
  return true;
}"""
SAMPLE = """() => { const b = window.__bench; const m = performance.memory;
  if (m) { b.heap = Math.max(b.heap, m.usedJSHeapSize); b.heapLimit = m.jsHeapSizeLimit; }
  return b; }"""
FINISHED = (
    "rempartHashPage.entries().length > 0 && rempartHashPage.entries().every("
    "e => e.status === 'done' || e.status === 'failed')"
)


@dataclass
class PageRun:
    seconds: float
    failed: list[str]
    max_gap_ms: float
    longest_task_ms: float
    heap_peak: int
    heap_limit: int
    tab_peak: int  # bytes: the renderer's peak resident size
    workers: int


def renderer_peak() -> int:
    """The largest peak resident size (VmHWM) among this process's chromium renderers."""
    best = 0
    for p in psutil.Process().children(recursive=True):
        try:
            if "--type=renderer" not in " ".join(p.cmdline()):
                continue
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]) * 1024)
        except (psutil.Error, OSError):
            continue
    return best


SHARED: list[Any] = []  # --one-browser: the chromium every run uses


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A fresh chromium, or with --one-browser the one shared by every run."""
    if SHARED:
        yield SHARED[0]
        return
    with launch_chromium() as browser:
        yield browser


def page_hash(page: Path, paths: list[Path], robust: bool, timeout_s: float = 3600) -> PageRun:
    """Hash `paths` in the real page in a fresh chromium (a fresh browser context in the
    shared one with --one-browser); time from choosing to all done."""
    with chromium() as browser:
        run = HashPageRun(browser, page.as_uri(), viewport=DESKTOP)
        try:
            run.set_options(robust=robust, keypoints=robust)
            run.page.evaluate(MONITOR)
            run.page.wait_for_timeout(200)
            t0 = time.perf_counter()
            run.choose(paths)
            while not run.page.evaluate(FINISHED):
                if time.perf_counter() - t0 > timeout_s:
                    raise TimeoutError(f"the page did not finish in {timeout_s} s")
                run.page.evaluate(SAMPLE)
                run.page.wait_for_timeout(25)
            seconds = time.perf_counter() - t0
            b: dict[str, Any] = run.page.evaluate(SAMPLE)
            failed = [
                f"{e['name']}: {e['code']} {e['message']}"
                for e in run.entries()
                if e["status"] != "done"
            ]
            return PageRun(
                seconds,
                failed,
                float(b["maxGap"]),
                float(b["longest"]),
                int(b["heap"]),
                int(b["heapLimit"]),
                renderer_peak(),
                run.workers(),
            )
        finally:
            run.close()


def cli_hash(paths: list[Path], robust: bool, out: Path) -> float:
    """`rempart hash PATHS --out` in a subprocess (all cores): wall seconds."""
    args = [str(BIN), "hash", *map(str, paths), "--out", str(out)]
    if not robust:
        args.append("--no-robust")
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"rempart hash failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds


def inprocess_hash(paths: list[Path], robust: bool) -> float:
    """What the CLI runs once Python has started: hash_refs on all cores, as a bank keeps
    the hashes (robust "stored", every video frame)."""
    refs, problems = collect(paths)
    options = ScanOptions(
        workers=cores(),
        seconds_per_frame=BANK_SECONDS_PER_FRAME,
        video_dedupe=BANK_DEDUPE_DISTANCE,
        robust="stored" if robust else None,
        full_decode=True,
    )  # as `rempart hash` (a bank's side)
    t0 = time.perf_counter()
    bad = [str(o.error) for o in hash_refs(refs, options, dihedral=False) if o.hashes is None]
    seconds = time.perf_counter() - t0
    if bad or problems:
        raise SystemExit(f"in-process hashing failed: {bad or problems}")
    return seconds


def make_photos(folder: Path, mpx: float, count: int) -> list[Path]:
    """`count` generated JPEG photos of about `mpx` megapixels (4:3): a photo-like scene
    drawn at up to 1 Mpx and enlarged (drawing a 48 Mpx scene takes minutes)."""
    w = int((mpx * 1e6 * 4 / 3) ** 0.5) // 8 * 8
    h = w * 3 // 4
    out = []
    for k in range(count):
        base = photo_like(700 + k, (min(w, 1152), min(h, 864)))
        img = base if base.size == (w, h) else base.resize((w, h))
        path = folder / f"photo-{mpx:g}mpx-{k}.jpg"
        img.save(path, quality=90)
        out.append(path)
    return out


def duration(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if s.duration is not None and s.time_base is not None:
            return float(s.duration * s.time_base)
        return float((c.duration or 0) / 1e6)


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n else "n/a"


def bench_photos(page: Path, work: Path, sizes: list[float], count: int) -> None:
    print(
        f"\nPhotos (JPEG, generated), {count} per size; per-photo time, seconds "
        f"(page: {max(1, min(4, cores() - 1))} worker(s) expected on {cores()} cores; "
        f"CLI: {cores()} processes)"
    )
    print(
        f"{'size':>7} {'robust':>6} {'page':>8} {'CLI':>8} {'in-proc':>8} {'page/CLI':>9} "
        f"{'page/in-proc':>13} {'max frame gap':>14} {'longest task':>13} {'JS heap':>9} "
        f"{'tab peak':>10}"
    )
    for mpx in sizes:
        folder = work / f"photos-{mpx:g}"
        folder.mkdir()
        paths = make_photos(folder, mpx, count)
        for robust in (False, True):
            p = page_hash(page, paths, robust)
            cli = cli_hash(paths, robust, work / "cli.json")
            inproc = inprocess_hash(paths, robust)
            n = len(paths)
            longest = (
                "n/a"
                if p.longest_task_ms < 0
                else "none"
                if p.longest_task_ms == 0
                else f"{p.longest_task_ms:.0f} ms"
            )  # none: no task over 50 ms
            print(
                f"{mpx:>5g}Mp {'yes' if robust else 'no':>6} {p.seconds / n:>8.2f} "
                f"{cli / n:>8.2f} {inproc / n:>8.2f} {p.seconds / cli:>8.2f}x "
                f"{p.seconds / inproc:>12.2f}x {p.max_gap_ms:>11.0f} ms {longest:>13} "
                f"{mib(p.heap_peak):>9} {mib(p.tab_peak):>10}",
                flush=True,
            )
            if p.failed:
                print(f"        page could not hash: {p.failed}")
        print(
            f"        (page pool: {p.workers} worker(s); JS heap limit of the main "
            f"thread: {mib(p.heap_limit)})"
        )


def bench_videos(page: Path, work: Path, videos: list[Path]) -> None:
    print(
        "\nVideos (bank side: every frame, halves, inside bars); speed as a multiple of "
        "real time (higher is faster)"
    )
    print(f"{'video':34} {'length':>7} {'page':>8} {'CLI':>8} {'in-proc':>8} {'page/CLI time':>14}")
    for v in videos:
        length = duration(v)
        p = page_hash(page, [v], robust=True)
        cli = cli_hash([v], True, work / "cli.json")
        inproc = inprocess_hash([v], True)
        note = f"  page could not hash: {p.failed}" if p.failed else ""
        print(
            f"{v.name[:34]:34} {length:>6.1f}s {length / p.seconds:>7.2f}x "
            f"{length / cli:>7.2f}x {length / inproc:>7.2f}x {p.seconds / cli:>13.2f}x"
            f"{note}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="1 and 12 Mpx, 2 photos each, one sample video and a short generated one",
    )
    ap.add_argument("--sizes", default="1,12,48", help="photo sizes in megapixels")
    ap.add_argument("--count", type=int, default=4, help="photos per size")
    ap.add_argument("--videos", type=int, default=3, help="TMK sample videos (0: none)")
    ap.add_argument(
        "--video-seconds", type=float, default=20.0, help="length of the generated video (0: none)"
    )
    ap.add_argument(
        "--one-browser",
        action="store_true",
        help="one chromium for every run, a fresh context each (smoke runs: the tab peak "
        "is then the largest over the runs)",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.count, args.videos, args.video_seconds = "1,12", 2, 1, 5.0
    why = chromium_missing()
    if why:
        print(f"browser bench not run: {why}")
        return 0
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(tempfile.mkdtemp(prefix="rempart-browser-bench-"))
    shared = contextlib.ExitStack()
    if args.one_browser:
        SHARED.append(shared.enter_context(launch_chromium()))
    try:
        page = built_page(work / "page.html")
        print(
            f"browser bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cores()} cores, "
            f"Debian chromium headless; page {page.stat().st_size / 2**20:.1f} MiB"
        )
        if sizes:
            bench_photos(page, work, sizes, args.count)
        videos = [
            TMK / n
            for n in ("chair-19-sd-bar.mp4", "pattern-hd-no-bar.mp4", "pattern-longer-no-bar.mp4")[
                : args.videos
            ]
            if (TMK / n).is_file()
        ]
        if args.video_seconds > 0:
            gen = work / "generated.mp4"
            write_video(gen, scene_frames(77, args.video_seconds, 10, (640, 360)))
            videos.append(gen)
        if videos:
            bench_videos(page, work, videos)
        return 0
    finally:
        shared.close()
        SHARED.clear()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
