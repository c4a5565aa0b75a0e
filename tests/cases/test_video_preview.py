"""A video match once had a broken preview (404): it is shown by a blurred keyframe of the
matched moment, in the CLI and the web UI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from rempart.cases.preview import matched_moment
from rempart.samples import scene_frames, write_video
from tests.cases.test_media_rules import web_client
from tests.cases.test_review import rempart
from tests.worlds import Restored


def test_a_video_match_has_a_blurred_keyframe(rempart_env: Path, consent_file: Path) -> None:
    hers, found = rempart_env / "hers", rempart_env / "found"
    hers.mkdir()
    found.mkdir()
    write_video(hers / "v.mp4", scene_frames(4, 4, 10, (192, 144)))
    write_video(found / "reencoded.mp4", scene_frames(4, 4, 10, (160, 120)), fps=10)
    rempart("hash", str(hers), "--out", str(rempart_env / "s.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank",
        "import",
        "b",
        str(rempart_env / "s.json"),
        "--case",
        "C-9",
        "--consent",
        str(consent_file),
    )
    rempart("scan", str(found), "--bank", "b")
    (item,) = json.loads(rempart("review", "list", "--format", "json"))
    assert item["kind"] == "vpdq", item
    assert matched_moment(item["details"]) >= 0
    out = rempart_env / "p.png"
    rempart("review", "preview", item["ref"], "--out", str(out))
    picture = Image.open(out)
    assert picture.mode == "L" and max(picture.size) <= 320
    client, _ = web_client("C-9")
    with client:
        r = client.get(f"/ui/matches/{item['ref']}/preview.png")
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")


def test_the_matched_moment() -> None:
    assert matched_moment({"query_ranges": [[2.5, 4.0], [6.0, 7.0]]}) == 2.5
    assert matched_moment({}) == 0.0 and matched_moment({"query_ranges": "x"}) == 0.0


def test_a_photo_from_a_telegram_export_has_its_preview(telegram_case: Restored) -> None:
    # confirmed_telegram_match, made once (tests/cases/conftest.py)
    rempart_env, ref = telegram_case.path, telegram_case.value  # locator: ...jpg#message=2
    out = rempart_env / "t.png"
    rempart("review", "preview", ref, "--out", str(out))
    assert max(Image.open(out).size) <= 320


def test_a_confirmed_telegram_photo_is_preserved_and_packaged(
    rempart_env: Path, consent_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cases.test_notices import confirmed_telegram_match

    monkeypatch.setenv("REMPART_EVIDENCE_MEDIA", "allowed")
    ref = confirmed_telegram_match(rempart_env, consent_file)
    assert list((rempart_env / "home").glob("evidence/*.bin"))  # kept when confirmed
    pkg = rempart_env / "e.zip"
    rempart("evidence", "export", ref, "--out", str(pkg), "--include-media")
    with zipfile.ZipFile(pkg) as zf:
        assert any(n.startswith("media/photo_1_1.jpg") for n in zf.namelist())
