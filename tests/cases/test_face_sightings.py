"""Face matches too are one per (found content, template, face): a photo scanned three times
is reviewed once, its sightings counted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import TESTDATA
from tests.scan.test_face_scan import rempart

FACES = TESTDATA / "faces/face_recognition-examples"
pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="needs ../shared/testdata")


def test_a_face_seen_three_times_is_reviewed_once(rempart_env: Path, consent_file: Path) -> None:
    rempart(
        "face",
        "enroll",
        str(FACES / "obama.jpg"),
        "--case",
        "CASE-F",
        "--consent",
        str(consent_file),
    )
    found = rempart_env / "found"
    found.mkdir()
    shutil.copy(FACES / "knn_examples/test/obama1.jpg", found / "obama1.jpg")
    for n in range(3):
        report = rempart_env / f"r{n}.json"
        rempart("scan", str(found), "--faces", "--report", str(report))
        hits = json.loads(report.read_text())["face_matches"]
        assert [Path(m["file"]).name for m in hits] == ["obama1.jpg"]  # each scan says so
    pending = [
        i for i in json.loads(rempart("review", "list", "--format", "json")) if i["kind"] == "face"
    ]
    assert len(pending) == 1 and pending[0]["sightings"] == 3, pending
