"""Videos through the real CLI: hash her videos, bank them, scan found copies, withdraw."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from rempart.cli import app
from rempart.exchange.submission import read_submission
from rempart.samples import photo_like
from rempart.signals.vpdq_text import frames_from_text
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import ScanItem
from tests.conftest import TESTDATA
from tests.media.video_factory import scene_frames, write_audio_only, write_video

SAMPLES = TESTDATA / "threatexchange/tmk/sample-videos"
runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})  # no wrapped paths
    assert result.exit_code == code, result.output
    return result.output


def bank(home: Path, consent: Path, *paths: Path, case: str = "CASE-V") -> None:
    sub = home / f"{case}.json"
    rempart("hash", *map(str, paths), "--out", str(sub))
    if "b" not in rempart("bank", "list", "--format", "json"):
        rempart("bank", "create", "b")
    rempart("bank", "import", "b", str(sub), "--case", case, "--consent", str(consent))


def scan(home: Path, *paths: Path, code: int = 0) -> dict[str, Any]:
    report = home / "report.json"
    rempart(
        "scan",
        *map(str, paths),
        "--bank",
        "b",
        "--report",
        str(report),
        "--workers",
        "2",
        code=code,
    )
    return json.loads(report.read_text())


def by_file(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in report["matches"]:
        out.setdefault(Path(m["file"]).name, []).append(m)
    return out


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="needs ../shared/testdata")
def test_sample_copies_found_and_other_clips_not(rempart_env: Path, consent_file: Path) -> None:
    """Her videos: the chair and pattern originals. Found: re-cut (chair-19 starts 4 s
    later), large logos, a longer re-encode, and two unrelated clips."""
    bank(
        rempart_env,
        consent_file,
        SAMPLES / "chair-orig-22-sd-bar.mp4",
        SAMPLES / "pattern-hd-no-bar.mp4",
    )
    found = [
        "chair-19-sd-bar",
        "chair-22-with-large-logo-bar",
        "pattern-longer-no-bar",
        "pattern-sd-with-large-logo-bar",
        "doorknob-hd-no-bar",
        "test-padded-dimensions",
    ]
    report = scan(rempart_env, *(SAMPLES / f"{n}.mp4" for n in found))
    assert report["summary"]["videos"] == 6
    hits = by_file(report)
    assert set(hits) == {f"{n}.mp4" for n in found[:4]}
    for name in found[:4]:
        (m,) = hits[f"{name}.mp4"]
        assert m["signal"] == "vpdq" and m["case"] == "CASE-V"
        d = m["details"]
        assert d["query_percent"] >= 80 and d["query_ranges"] and d["stored_ranges"]
    chair19 = hits["chair-19-sd-bar.mp4"][0]["details"]
    # chair-19 is the original from about 3.7 s on: located in hers accordingly
    start, end = chair19["stored_ranges"][0][0], chair19["stored_ranges"][-1][1]
    assert 2.5 <= start <= 5.0 and end >= 20.0
    # the large logo is only beaten by the halves of the picture
    assert hits["chair-22-with-large-logo-bar.mp4"][0]["details"]["frames_by_halves_only"] > 5


def test_clip_cut_from_a_long_video_is_found_and_located(
    rempart_env: Path, consent_file: Path
) -> None:
    # her 30 s video (the location does not depend on the length: 30 s, not 60, halves
    # the bank side's every-frame hashing)
    frames = scene_frames(7, 30, 10, (320, 240))
    her = write_video(rempart_env / "hers.mp4", frames)
    bank(rempart_env, consent_file, her)
    found = rempart_env / "found"
    found.mkdir()
    # seconds 12-22, re-encoded as VP8 WebM at another size, and a video with nothing of hers
    clip = [np.asarray(Image.fromarray(f).resize((480, 360))) for f in frames[120:220]]
    write_video(found / "clip.webm", clip, codec="libvpx")
    write_video(found / "other.mp4", scene_frames(99, 10, 10, (320, 240)))
    report = scan(rempart_env, found)
    hits = by_file(report)
    assert set(hits) == {"clip.webm"}
    d = hits["clip.webm"][0]["details"]
    assert d["query_percent"] >= 90
    start, end = d["stored_ranges"][0][0], d["stored_ranges"][-1][1]
    assert abs(start - 12) <= 1.5 and abs(end - 22) <= 1.5
    assert 25 <= d["stored_percent"] <= 40  # 10 s of her 30 s


def test_stills_and_videos_find_each_other(rempart_env: Path, consent_file: Path) -> None:
    frames = scene_frames(11, 12, 10, (320, 240))
    her_video = write_video(rempart_env / "hers.mp4", frames)
    her_photo = rempart_env / "photo.png"
    photo_like(5, (320, 240)).save(her_photo)
    bank(rempart_env, consent_file, her_video, her_photo)
    found = rempart_env / "found"
    found.mkdir()
    # a screenshot of her video at 6.3 s, and a slideshow video that shows her photo
    Image.fromarray(frames[63]).save(found / "screenshot.jpg", quality=85)
    # a screenshot cut 10% a side (at 3.1 s): it meets her frame's stored centre crop
    Image.fromarray(frames[31][24:216, 32:288]).save(found / "cropped-shot.jpg", quality=85)
    slides = [np.asarray(photo_like(40 + k, (320, 240))) for k in range(3)]
    slideshow = [slides[0]] * 30 + [np.asarray(Image.open(her_photo))] * 30 + [slides[1]] * 30
    write_video(found / "slideshow.mp4", slideshow)
    hits = by_file(scan(rempart_env, found))
    (shot,) = hits["screenshot.jpg"]
    assert shot["signal"] == "vpdq" and abs(shot["details"]["stored_time"] - 6.3) <= 0.5
    (cropped,) = hits["cropped-shot.jpg"]
    assert cropped["signal"] == "vpdq" and cropped["details"]["method"] == "vpdq-crop"
    assert cropped["details"]["crop"] == "crop80"
    assert abs(cropped["details"]["stored_time"] - 3.1) <= 0.5
    (slide,) = hits["slideshow.mp4"]
    assert slide["signal"] == "pdq" and slide["details"]["kind"] == "photo in video"
    assert slide["details"]["query_ranges"] == [[3.0, 6.0]]
    assert "appears at 0:03-0:06" in slide["where"]


def test_bad_videos_are_reported_and_the_scan_goes_on(
    rempart_env: Path, consent_file: Path
) -> None:
    # 10 s (what is checked, the reasons and the cut copy's frames, does not depend on length)
    frames = scene_frames(3, 10, 10, (320, 240))
    her = write_video(rempart_env / "hers.mp4", frames)
    bank(rempart_env, consent_file, her)
    found = rempart_env / "found"
    found.mkdir()
    copy = write_video(found / "copy.mp4", frames)
    data = copy.read_bytes()
    (found / "truncated.mp4").write_bytes(data[: len(data) // 3])
    mkv = write_video(rempart_env / "copy.mkv", frames).read_bytes()
    (found / "cut.mkv").write_bytes(mkv[: len(mkv) * 6 // 10])
    (found / "empty.mp4").write_bytes(b"")
    (found / "text.mkv").write_text("not a video at all\n")
    write_audio_only(found / "audio.mp4")
    report = scan(rempart_env, found, code=3)
    hits = by_file(report)
    reasons = {Path(s["file"]).name: s["reason"] for s in report["skipped"]}
    assert reasons == {
        "empty.mp4": "empty-file",
        "text.mkv": "not-a-video",
        "audio.mp4": "no-video-stream",
        "truncated.mp4": "corrupt",  # an MP4 cut before its index (moov): nothing to read
    }
    assert all(Path(s["file"]).name in s["detail"] for s in report["skipped"])
    assert "truncated" in next(s["detail"] for s in report["skipped"] if "trunc" in s["file"])
    # a Matroska copy cut at 60% keeps the frames before the break: matched, with a note
    assert set(hits) == {"copy.mp4", "cut.mkv"}
    assert hits["cut.mkv"][0]["details"]["query_percent"] >= 80
    db = Database(os.environ["REMPART_DB"])
    with db.session() as s:
        item = s.scalars(select(ScanItem).where(ScanItem.locator.like("%cut.mkv"))).one()
        assert item.media_type == "video" and "cut short" in (item.detail or "")


def test_withdrawal_removes_every_frame_from_the_index(
    rempart_env: Path, consent_file: Path
) -> None:
    her = write_video(rempart_env / "hers.mp4", scene_frames(5, 10, 10, (320, 240)))
    bank(rempart_env, consent_file, her)
    db = Database(os.environ["REMPART_DB"])
    index = BankIndex(db, rempart_env / "home").load()
    assert len(index) > 100  # every frame, inside bars and halves
    rempart("case", "withdraw", "CASE-V", "--yes")
    assert len(BankIndex(db, rempart_env / "home").load()) == 0
    report = scan(rempart_env, her)
    assert report["matches"] == []


def test_hash_writes_vpdq_text_and_submission_frames(rempart_env: Path) -> None:
    video = write_video(rempart_env / "v.mp4", scene_frames(2, 6, 10, (320, 240)))
    text = rempart_env / "v.txt"
    rempart("hash", str(video), "--format", "vpdq", "--out", str(text))
    frames = frames_from_text(text.read_text(), "v.txt")
    assert [f.timestamp for f in frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert text.read_text().splitlines()[1].startswith("10,")  # frame,quality,hex,time
    sub = rempart_env / "sub.json"
    rempart("hash", str(video), "--out", str(sub))
    (item,) = read_submission(sub).items
    assert item.media_type == "video" and item.duration == pytest.approx(6.0, abs=0.2)
    halves_and_crops = {"top", "bottom", "left", "right", "crop90", "crop80"}  # crops: issue 21
    assert len(item.frames) > 30 and set(item.regions) == halves_and_crops
    assert item.seconds_per_frame == 0.0


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_report_progress_per_video(tmp_path: Path, workers: int) -> None:
    from rempart.scan.pipeline import ScanOptions, collect, hash_refs

    for k in range(2):
        write_video(tmp_path / f"v{k}.mp4", scene_frames(k, 5, 10, (160, 120)))
    photo_like(1, (64, 48)).save(tmp_path / "p.png")
    refs, _ = collect([tmp_path])
    events: list[tuple[str, float, float | None]] = []
    outcomes = list(
        hash_refs(
            refs, ScanOptions(workers=workers), dihedral=True, on_video=lambda *e: events.append(e)
        )
    )
    assert len(outcomes) == 3 and all(o.error is None for o in outcomes)
    for k in range(2):
        mine = [e for e in events if e[0].endswith(f"v{k}.mp4")]
        assert [e[1] for e in mine] == [0.0, 1.0, 2.0, 3.0, 4.0, -1.0]  # then "done"
        assert mine[0][2] == pytest.approx(5.0, abs=0.2)  # the duration, for the bar
    assert not any(e[0].endswith("p.png") for e in events)
