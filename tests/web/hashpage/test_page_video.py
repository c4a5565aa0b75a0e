"""Videos through her page: a short generated video gives the item `rempart hash --out` writes
(same exact hashes, size, frame count and frame hashes); a long one (2 hours, tiny) shows a
long-video warning and its progress in video time, the page stays responsive, and Stop
cancels it at once and lists it; an audio-only MP4 is never lost silently."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from tests.media.video_factory import scene_frames, write_audio_only, write_video
from tests.web.hashpage.conftest import HashPageRun

from rempart.samples import photo_like


def test_short_video_equals_cli(hash_page: HashPageRun, tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", scene_frames(5, 3.0, 10, (160, 120)), fps=10)
    got = hash_page.hash_files([path])["items"][0]
    done = subprocess.run(
        [sys.executable, "-m", "rempart", "hash", str(path), "--out", str(tmp_path / "cli.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    want = json.loads((tmp_path / "cli.json").read_text())["items"][0]
    for key in (
        "media_type",
        "pdq",
        "pdq_quality",
        "md5",
        "sha256",
        "width",
        "height",
        "seconds_per_frame",
    ):
        assert got[key] == want[key], key
    assert abs(got["duration"] - want["duration"]) < 0.2
    # Frames as "hex,quality,seconds": the same frames at the same times, each hash close to
    # the CLI's (the browser's YUV->RGB conversion is not FFmpeg's: bits may differ).
    assert len(got["vpdq"]) == len(want["vpdq"]) > 0
    distances = []
    for g, w in zip(got["vpdq"], want["vpdq"], strict=True):
        (gh, _, gt), (wh, _, wt) = g.split(","), w.split(",")
        assert abs(float(gt) - float(wt)) < 0.01
        distances.append(bin(int(gh, 16) ^ int(wh, 16)).count("1"))
    assert max(distances) <= 31, distances
    assert set(got.get("vpdq_regions", {})) == set(want.get("vpdq_regions", {}))
    assert (
        set(got.get("vpdq_crops", {}))
        == set(want.get("vpdq_crops", {}))
        == {
            "crop90",
            "crop80",
        }
    )
    print(
        f"video frames: PDQ distance to the CLI's max {max(distances)}, "
        f"mean {sum(distances) / len(distances):.1f} bits"
    )


def long_video(path: Path, seconds: int, fps: int = 1) -> Path:
    """A tiny moving scene of `seconds` seconds (cheap to encode even at 2 hours)."""
    scene = np.asarray(photo_like(7, (256, 96)))
    frames = [
        np.ascontiguousarray(scene[:, (i * 3) % 192 : (i * 3) % 192 + 64])
        for i in range(seconds * fps)
    ]
    return write_video(path, frames, fps=fps)


def test_two_hour_video_progress_and_cancel(hash_page: HashPageRun, tmp_path: Path) -> None:
    path = long_video(tmp_path / "two-hours.mp4", 2 * 3600)
    page = hash_page.page
    hash_page.choose([path])
    # The long-video warning (from the preview's duration) and progress in video time.
    deadline = time.monotonic() + 120
    while True:
        entry = hash_page.entries()[0]
        if entry["stage"] == "video" and "Long video" in page.inner_text("#file-list"):
            break
        assert entry["status"] == "working", entry
        assert time.monotonic() < deadline, entry
        page.wait_for_timeout(200)
    state = page.inner_text("#file-list li .state")
    assert "of 2:00:00" in state, state
    # The page stays responsive while the workers hash (a round trip to it is quick).
    t0 = time.monotonic()
    page.evaluate("1 + 1")
    assert time.monotonic() - t0 < 1.0
    page.click("#cancel")
    hash_page.wait_all_finished(10_000)
    assert hash_page.entries()[0]["code"] == "cancelled"
    assert "two-hours.mp4" in page.inner_text("#failed-list")


def test_audio_only_is_listed_or_kept(hash_page: HashPageRun, tmp_path: Path) -> None:
    """An MP4 with no picture: never silently dropped (hashed exactly, or listed)."""
    path = write_audio_only(tmp_path / "voice.mp4")
    good = tmp_path / "good.jpg"
    photo_like(8, (320, 240)).save(good, "JPEG", quality=90)
    hash_page.choose([path, good])
    hash_page.wait_all_finished()
    entries = {e["name"]: e for e in hash_page.entries()}
    voice = entries["voice.mp4"]
    assert voice["status"] == "done" or "voice.mp4" in hash_page.page.inner_text("#failed-list")
    assert entries["good.jpg"]["status"] == "done"


def test_codec_the_browser_lacks_falls_back_to_exact_hashes(
    hash_page: HashPageRun, tmp_path: Path
) -> None:
    """MPEG-4 Part 2 video (no WebCodecs decoder): the item keeps MD5/SHA-256, with a note
    saying only exact copies can then be found, and the file still imports."""
    path = write_video(
        tmp_path / "old-phone.mp4", scene_frames(6, 2.0, 10, (160, 120)), fps=10, codec="mpeg4"
    )
    saved = tmp_path / "my-hashes.json"
    sub = hash_page.hash_files([path], save_to=saved)
    item = sub["items"][0]
    assert item["media_type"] == "video" and item["vpdq"] == []
    assert item["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    entry = hash_page.entries()[0]
    assert any("only exact copies" in n for n in entry["notes"]), entry
    assert "only exact copies" in hash_page.page.inner_text("#file-list")
    from rempart.exchange.submission import read_submission

    assert read_submission(saved).items[0].md5 == item["md5"]


def test_animated_gif_is_a_video(hash_page: HashPageRun, tmp_path: Path) -> None:
    """As for rempart.media.kinds: an animated GIF's frames are hashed like a video's."""
    frames = [photo_like(seed, (96, 72)).convert("P") for seed in (21, 22, 23)]
    path = tmp_path / "loop.gif"
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100)
    got = hash_page.hash_files([path])["items"][0]
    done = subprocess.run(
        [sys.executable, "-m", "rempart", "hash", str(path), "--out", str(tmp_path / "cli.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    want = json.loads((tmp_path / "cli.json").read_text())["items"][0]
    assert got["media_type"] == want["media_type"] == "video"
    assert len(got["vpdq"]) == len(want["vpdq"]) == 3, (got["vpdq"], done.stderr)
