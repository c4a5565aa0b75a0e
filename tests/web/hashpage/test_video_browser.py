"""Her videos hashed by the real page (`rempart hash-page`) in Debian's chromium, against the
CLI's bank side (`rempart hash --out`) on the same files, and against Meta's vPDQ sample hashes.

- Generated clips in every container and codec the page reads (H.264 in MP4 and MKV with black
  bars, VP8 and VP9 in WebM, VP9 and AV1 in MP4, AV1 in WebM, animated GIFs with even and
  uneven delays): the page's item equals the CLI's (every frame list: whole frames, inside
  bars, halves, centre crops; size, duration, sampling, timestamps).
- Meta's sample videos: the page's frames equal the CLI's, and every frame of quality >= 50
  lies within 31 bits of Meta's reference hash of the same frame.
- What Chromium cannot decode (HEVC, AVI): the exact hashes only, with the page's clear note.
- Truncated, damaged and not-a-video files: a clear error or a note, never a hang.
- A long low-resolution video: bounded memory, progress, and cancel stops it.

Only generated abstract scenes (tests/media/video_factory.py) and the reference videos of
../shared/testdata are used.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tests.media.video_factory import scene_frames, write_video
from tests.web.hashpage import nodejs
from tests.web.hashpage.conftest import HashPageRun

from rempart.samples import photo_like
from rempart.signals.pdq import hamming
from rempart.signals.vpdq_text import frames_from_text

TESTDATA = nodejs.THREATEXCHANGE
SAMPLES = TESTDATA / "tmk" / "sample-videos"
META = TESTDATA / "vpdq" / "sample-hashes"
VIDEO_FIELDS = (
    "media_type",
    "pdq",
    "pdq_quality",
    "md5",
    "sha256",
    "width",
    "height",
    "duration",
    "seconds_per_frame",
    "vpdq",
    "vpdq_inside",
    "vpdq_regions",
    "vpdq_crops",
)
# A subset of Meta's samples keeps `make test` short: HD and SD, bars, logo, odd coding size,
# each cut to its first two groups of pictures (4 s: every frame of a group decodes as in the
# whole file, with the same timestamps, so each frame still meets Meta's hash of that frame);
# REMPART_ALL_VIDEO_SAMPLES=1 runs all 14, whole.
SOME_SAMPLES = (
    "doorknob-hd-no-bar.mp4",
    "pattern-sd-with-large-logo-bar.mp4",
    "chair-19-sd-bar.mp4",
    "test-padded-dimensions.mp4",
)
SOME_SAMPLES_GOPS = 2


def cli_items(paths: list[Path], out: Path) -> dict[str, dict[str, Any]]:
    """`rempart hash --out` on the same files, by SHA-256 (long videos: a longer timeout)."""
    return nodejs.cli_items(paths, out, timeout=1200)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_sha(sub: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["sha256"]: i for i in sub["items"]}


def assert_same_item(got: dict[str, Any], want: dict[str, Any], name: str) -> None:
    for key in VIDEO_FIELDS:
        a, b = got.get(key), want.get(key)
        if key == "vpdq" and a != b:
            pairs = list(zip(a or [], b or [], strict=False))
            first = next((i for i, (x, y) in enumerate(pairs) if x != y), None)
            pytest.fail(
                f"{name}: vpdq differs ({len(a or [])} vs {len(b or [])} frames; first "
                f"difference at {first}: {pairs[first] if first is not None else ''})"
            )
        assert a == b, f"{name}: {key} differs"
    assert "path" not in got


def clip(
    folder: Path,
    name: str,
    codec: str,
    *,
    bars: bool = False,
    seconds: float = 3.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 10,
) -> Path:
    w, h = size
    frames = scene_frames(11, seconds, fps, (w, h - 48) if bars else size)
    if bars:
        framed = []
        for f in frames:
            out = np.zeros((h, w, 3), np.uint8)
            out[24 : h - 24] = f
            framed.append(out)
        frames = framed
    return write_video(folder / name, frames, fps=fps, codec=codec)


def animated_gif(path: Path, delays: int | list[int], size: tuple[int, int]) -> Path:
    """An animated GIF (a video for Rempart): generated pictures, palette per frame."""
    n = len(delays) if isinstance(delays, list) else 10
    frames = [
        photo_like(80 + k, size).convert("P", palette=Image.Palette.ADAPTIVE) for k in range(n)
    ]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=delays, loop=0)
    return path


def test_generated_videos_equal_cli(hash_page: HashPageRun, tmp_path: Path) -> None:
    paths = [
        clip(tmp_path, "h264-bars.mp4", "libx264", bars=True),
        clip(tmp_path, "h264.mkv", "libx264"),
        clip(tmp_path, "vp8.webm", "libvpx"),
        clip(tmp_path, "vp9.webm", "libvpx-vp9"),
        clip(tmp_path, "vp9.mp4", "libvpx-vp9"),
        clip(tmp_path, "av1.webm", "libsvtav1"),
        clip(tmp_path, "av1.mp4", "libsvtav1"),
        clip(tmp_path, "odd-size.mp4", "libx264", size=(250, 142)),
        animated_gif(tmp_path / "even.gif", 70, (160, 120)),
        animated_gif(tmp_path / "uneven.gif", [100, 50, 100, 200, 100, 100], (161, 121)),
    ]
    page = by_sha(hash_page.hash_files(paths))
    cli = cli_items(paths, tmp_path / "cli.json")
    for path in paths:
        sha = sha256_of(path)
        assert sha in page, f"{path.name} missing from the page's file"
        assert_same_item(page[sha], cli[sha], path.name)
    barred = cli[sha256_of(paths[0])]
    assert barred.get("vpdq_inside"), "the barred clip must have inside-bars hashes"
    assert not [e for e in hash_page.entries() if e["notes"]], hash_page.entries()


def first_gops(src: Path, dst: Path, gops: int) -> Path:
    """The first `gops` groups of pictures of `src` (packets copied, not re-encoded), or
    `src` itself when it has no more than that."""
    import av

    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        packets = [p for p in inp.demux(stream) if p.dts is not None]
        starts = [i for i, p in enumerate(packets) if p.is_keyframe]
        if len(starts) <= gops:
            return src
        with av.open(str(dst), "w") as out:
            copy = out.add_stream_from_template(stream)
            for packet in packets[: starts[gops]]:
                packet.stream = copy
                out.mux(packet)
    return dst


def meta_frames(name: str) -> dict[int, tuple[int, str]]:
    text = (META / name.replace(".mp4", ".txt")).read_text()
    return {f.frame: (f.quality, f.pdq_hex) for f in frames_from_text(text, name)}


def test_sample_videos_conform(hash_page: HashPageRun, tmp_path: Path) -> None:
    names = sorted(p.name for p in SAMPLES.glob("*.mp4"))
    paths = [SAMPLES / n for n in names]
    if os.environ.get("REMPART_ALL_VIDEO_SAMPLES") != "1":
        paths = [
            first_gops(SAMPLES / n, tmp_path / n, SOME_SAMPLES_GOPS)
            for n in names
            if n in SOME_SAMPLES
        ]
        assert any(p.parent == tmp_path for p in paths), "no sample was cut"
    assert paths, f"no sample video under {SAMPLES}"
    started = time.monotonic()
    page = by_sha(hash_page.hash_files(paths, timeout_ms=1_800_000))
    page_s = time.monotonic() - started
    started = time.monotonic()
    cli = cli_items(paths, tmp_path / "cli.json")
    cli_s = time.monotonic() - started
    distances: list[int] = []
    for path in paths:
        sha = sha256_of(path)
        got = page[sha]
        assert_same_item(got, cli[sha], path.name)
        meta = meta_frames(path.name)
        fps = 30.0  # every sample is 30 frames/s (vPDQ's timestamps are n / 30)
        for entry in got["vpdq"]:
            pdq_hex, quality, ts = entry.split(",")
            number = round(float(ts) * fps)
            assert number in meta, f"{path.name}: frame {number} not in Meta's hashes"
            meta_quality, meta_hex = meta[number]
            if int(quality) >= 50 and meta_quality >= 50:
                d = hamming(pdq_hex, meta_hex)
                distances.append(d)
                assert d <= 31, f"{path.name}: frame {number} is {d} bits from Meta's"
    seconds = sum(cli[s]["duration"] for s in cli)
    print(
        f"\nvideo samples: {len(paths)} videos, {seconds:.1f} s; page {page_s:.1f} s "
        f"({seconds / page_s:.2f}x real time, incl. MD5/SHA-256), CLI {cli_s:.1f} s "
        f"({seconds / cli_s:.2f}x); distance to Meta's frames: {len(distances)} frames, "
        f"median {int(np.median(distances))}, p95 {int(np.percentile(distances, 95))}, "
        f"max {max(distances)}"
    )


def test_unsupported_codecs_fall_back(hash_page: HashPageRun, tmp_path: Path) -> None:
    hevc = clip(tmp_path, "hevc.mp4", "libx265")
    avi = clip(tmp_path, "mpeg4.avi", "mpeg4")
    sub = hash_page.hash_files([hevc, avi])
    items = by_sha(sub)
    entries = {e["name"]: e for e in hash_page.entries()}
    for path, says in ((hevc, "HEVC"), (avi, "AVI")):
        sha = sha256_of(path)
        item = items[sha]
        assert item["media_type"] == "video" and item["vpdq"] == []
        assert item["md5"] and item["sha256"] == sha
        notes = " ".join(entries[path.name]["notes"])
        assert "only exact copies" in notes and says in notes, notes


def test_bad_videos_are_named_never_hang(hash_page: HashPageRun, tmp_path: Path) -> None:
    good = clip(tmp_path, "good.mp4", "libx264")
    data = (SAMPLES / "chair-19-sd-bar.mp4").read_bytes()  # its index comes first
    cut = tmp_path / "cut-in-half.mp4"
    cut.write_bytes(data[: len(data) // 2])
    no_index = tmp_path / "cut-before-index.mp4"  # PyAV writes the index last
    no_index.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    garbage = tmp_path / "damaged.webm"
    garbage.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 20)
    started = time.monotonic()
    hash_page.choose([good, cut, no_index, text, garbage])
    hash_page.wait_all_finished(300_000)
    assert time.monotonic() - started < 300
    entries = {e["name"]: e for e in hash_page.entries()}
    assert entries["good.mp4"]["status"] == "done"
    half = entries["cut-in-half.mp4"]
    assert half["status"] == "done", half
    assert len(half["item"]["vpdq"]) > 10
    assert any("cut short" in n for n in half["notes"]), half["notes"]
    for name, code in (
        ("cut-before-index.mp4", "undecodable"),
        ("notes.mp4", "not-media"),
        ("damaged.webm", "undecodable"),
    ):
        e = entries[name]
        assert e["status"] == "failed" and e["code"] == code, (name, e)
        if code == "undecodable":
            assert "truncated or damaged" in e["message"], e


def renderer_rss_mb() -> float:
    """Resident memory of this test's chromium processes (MB)."""
    total = 0
    me = os.getpid()
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    todo = list(children.get(me, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"chrom" not in cmd:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def progress_values(run: HashPageRun) -> list[float]:
    return list(
        run.page.evaluate(
            "Array.from(document.querySelectorAll('#file-list progress')).map(p => p.value)"
        )
    )


def test_long_video_bounded_memory_progress_cancel(hash_page: HashPageRun, tmp_path: Path) -> None:
    """A 10-minute low-resolution video: hashed with memory that does not grow with its length,
    with progress moving; a second run is cancelled mid-way and stops."""
    short = clip(tmp_path, "one-minute.mp4", "libx264", seconds=60, size=(160, 120), fps=10)
    long = clip(tmp_path, "ten-minutes.mp4", "libx264", seconds=600, size=(160, 120), fps=10)
    peaks = {}
    for path in (short, long):
        baseline = renderer_rss_mb()
        hash_page.choose([path])
        peak, seen = baseline, []
        deadline = time.monotonic() + 900
        while True:
            entries = hash_page.entries()
            if entries[-1]["status"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline, "the long video did not finish"
            peak = max(peak, renderer_rss_mb())
            seen.extend(progress_values(hash_page)[-1:])
            time.sleep(0.5)
        assert entries[-1]["status"] == "done", entries[-1]
        peaks[path.name] = peak - baseline
        if path is long:
            moving = sorted(set(seen))
            assert len(moving) >= 5, f"progress did not move: {moving}"
        hash_page.page.click("#reset")
    print(
        f"\nrenderer memory growth while hashing: 1 min {peaks[short.name]:.0f} MB, "
        f"10 min {peaks[long.name]:.0f} MB"
    )
    assert peaks[long.name] < peaks[short.name] + 150, peaks
    # Cancel: the long video again, cancelled once it is under way.
    hash_page.choose([long])
    hash_page.wait_for("rempartHashPage.entries().some(e => e.stage === 'video')", 120_000)
    hash_page.page.click("#cancel")
    entry = hash_page.entries()[-1]
    assert entry["status"] == "failed" and entry["code"] == "cancelled", entry
