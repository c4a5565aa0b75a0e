"""Face search through the real CLI: enroll with consent, scan --faces, export, withdraw."""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from rempart.cli import app
from rempart.faces.detect import find_faces
from rempart.samples import paste_region, photo_like
from tests.conftest import TESTDATA
from tests.postgres import database_bytes, execute

FACES = TESTDATA / "faces/face_recognition-examples"
TRAIN = FACES / "knn_examples/train"
pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="needs ../shared/testdata")
runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # rich wraps long lines


# Scans whose check is not the face detector run HOG alone: the default second pass (dlib's
# CNN on every picture or frame where HOG finds no face, ~1.5 s of CPU each) is checked in
# tests/faces/test_second_pass.py, with the CLI's choice of detector.
HOG = ("--face-detector", "hog")


@functools.cache
def plain_templates(photo: Path) -> tuple[tuple[float, ...], ...]:
    """The unjittered templates of a photo's faces (the same on both databases: once)."""
    faces = find_faces(np.asarray(Image.open(photo).convert("RGB")))
    return tuple(f.template for f in faces if f.template is not None)


def composite(photo: Path, background_seed: int) -> Image.Image:
    """Her face (from a photo) pasted, blended, onto a generated scene."""
    img = Image.open(photo).convert("RGB")
    face = find_faces(np.asarray(img))[0]
    pad = face.width // 4
    left, top, right, bottom = face.box
    return paste_region(
        img,
        (left - pad, top - pad, right + pad, bottom + pad),
        photo_like(background_seed, (1000, 750)),
        (400, 120),
        scale=0.7,
    )


@pytest.mark.both_databases  # face templates deleted for real on both
def test_enroll_scan_export_withdraw(rempart_env: Path, consent_file: Path) -> None:
    obama = sorted((TRAIN / "obama").iterdir())
    # without consent: refused, nothing stored
    out = rempart("face", "enroll", *map(str, obama), "--case", "CASE-F", code=1)
    assert "no consent record" in out
    rempart("face", "enroll", *map(str, obama), "--case", "CASE-F", "--consent", str(consent_file))
    assert rempart("face", "list").count("CASE-F") == len(obama)
    found = rempart_env / "found"
    found.mkdir()
    shutil.copy(FACES / "knn_examples/test/obama1.jpg", found / "obama1.jpg")
    shutil.copy(FACES / "knn_examples/test/obama_and_biden.jpg", found / "crowd.jpg")
    shutil.copy(FACES / "biden.jpg", found / "someone-else.jpg")
    composite(FACES / "obama-720p.jpg", 3).save(found / "composite.jpg", quality=85)
    photo_like(4, (640, 480)).save(found / "no-face.jpg")
    tiny = Image.open(FACES / "obama.jpg").resize((110, 137))  # a face ~31 px wide
    tiny.save(found / "tiny.jpg")
    report = rempart_env / "r.json"
    # HOG alone: what is checked here is enrolment, matching, export and withdrawal, not the
    # detector (its CNN second pass, ~1.5 s of CPU on no-face.jpg: tests/faces/test_second_pass)
    rempart("scan", str(found), "--faces", *HOG, "--report", str(report), "--workers", "2")
    data = json.loads(report.read_text())
    hits = {Path(m["file"]).name: m for m in data["face_matches"]}
    assert set(hits) == {"obama1.jpg", "crowd.jpg", "composite.jpg"}
    assert all(m["case"] == "CASE-F" and m["distance"] <= 0.5 for m in hits.values())
    assert len(hits["crowd.jpg"]["box"]) == 4
    assert data["summary"]["faces_found"] >= 6
    notes = {Path(n["file"]).name: n["reason"] for n in data["faces_not_compared"]}
    assert notes.get("tiny.jpg") == "too-small"
    # export: refused unless her consent allows exchange
    assert "does not allow" in rempart(
        "face", "export", "--case", "CASE-F", "--out", str(rempart_env / "t.json"), code=1
    )
    # templates are encrypted at rest: no template's raw bytes anywhere in the database file
    raw = [np.asarray(t, dtype="<f4").tobytes() for p in obama for t in plain_templates(p)]
    db_bytes = database_bytes(os.environ["REMPART_DB"])
    assert raw and not any(r[:64] in db_bytes for r in raw)
    blobs = [
        bytes(b)
        for (b,) in execute(os.environ["REMPART_DB"], "select ciphertext from face_templates")
    ]
    assert len(blobs) == len(obama)
    rempart("case", "withdraw", "CASE-F", "--yes")
    db_bytes = database_bytes(os.environ["REMPART_DB"])  # SQLite: with its write-ahead log
    assert not any(b[12:60] in db_bytes for b in blobs)  # deleted for real, not just marked
    assert "CASE-F" not in rempart("face", "list")
    rempart("scan", str(found), "--faces", *HOG, "--report", str(report))
    assert json.loads(report.read_text())["face_matches"] == []


def test_several_faces_ask_which_one(rempart_env: Path, consent_file: Path) -> None:
    two = FACES / "two_people.jpg"
    out = rempart(
        "face", "enroll", str(two), "--case", "C2", "--consent", str(consent_file), code=1
    )
    assert "2 faces" in out and "--pick two_people.jpg:N" in out
    out = rempart(
        "face",
        "enroll",
        str(two),
        "--pick",
        "two_people.jpg:3",
        "--case",
        "C2",
        "--consent",
        str(consent_file),
        code=1,
    )
    assert "only 2 were found" in out
    rempart(
        "face",
        "enroll",
        str(two),
        "--pick",
        "two_people.jpg:2",
        "--case",
        "C2",
        "--consent",
        str(consent_file),
    )
    noface = rempart_env / "scene.jpg"
    photo_like(1, (400, 300)).save(noface)
    broken = rempart_env / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really")
    out = rempart(
        "face",
        "enroll",
        str(noface),
        str(broken),
        str(FACES / "obama.jpg"),
        "--case",
        "C3",
        "--consent",
        str(consent_file),
        code=3,
    )
    assert "scene.jpg: no face found" in out and "broken.jpg" in out
    assert "Enrolled 1 face template" in out


def test_export_allowed_by_consent(rempart_env: Path, tmp_path: Path) -> None:
    consent = tmp_path / "c.json"
    consent.write_text(
        json.dumps(
            {
                "given_by": "A",
                "given_at": "2026-11-01",
                "purpose": "find and share with partners",
                "allow_exchange": True,
            }
        )
    )
    rempart("face", "enroll", str(FACES / "obama.jpg"), "--case", "C4", "--consent", str(consent))
    out_file = tmp_path / "t.json"
    rempart("face", "export", "--case", "C4", "--out", str(out_file))
    doc = json.loads(out_file.read_text())
    assert doc["format"] == "rempart-face-templates" and len(doc["templates"]) == 1


def test_faces_in_video_frames(rempart_env: Path, consent_file: Path) -> None:
    from rempart.samples import write_video

    rempart(
        "face", "enroll", str(FACES / "obama.jpg"), "--case", "CV", "--consent", str(consent_file)
    )
    scene = [np.asarray(photo_like(k, (640, 480))) for k in range(2)]
    comp = np.asarray(composite(FACES / "obama-480p.jpg", 5).resize((640, 480)))
    frames = [scene[0]] * 30 + [comp] * 30 + [scene[1]] * 20
    video = write_video(rempart_env / "v.mp4", frames)
    report = rempart_env / "r.json"
    rempart("scan", str(video), "--faces", *HOG, "--report", str(report))
    (hit,) = json.loads(report.read_text())["face_matches"]
    assert hit["case"] == "CV" and 2.0 <= hit["time"] <= 6.0


def test_expired_consent_templates_are_not_used(rempart_env: Path, tmp_path: Path) -> None:
    consent = tmp_path / "c.json"
    consent.write_text(
        json.dumps(
            {
                "given_by": "A",
                "given_at": "2026-01-01",
                "purpose": "find",
                "retention_until": "2026-02-01",
            }
        )
    )
    rempart("face", "enroll", str(FACES / "obama.jpg"), "--case", "C5", "--consent", str(consent))
    report = tmp_path / "r.json"
    rempart("scan", str(FACES / "obama2.jpg"), "--faces", "--report", str(report))
    assert json.loads(report.read_text())["face_matches"] == []
