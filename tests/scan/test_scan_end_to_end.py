"""hash -> bank create -> bank import -> scan -> match -> withdraw, through the real CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from tests.postgres import database_bytes, execute

pytestmark = pytest.mark.both_databases

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})  # no wrapped paths
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Her photos, their hash file (from the real `hash` command) and the found files, made
    once per module: every test (on both databases) reads them and hashes nothing again."""
    root = tmp_path_factory.mktemp("made")
    photos, found = root / "photos", root / "found"
    photos.mkdir()
    found.mkdir()
    originals = [photo_like(100 + i, (640, 480)) for i in range(4)]
    for i, img in enumerate(originals):
        img.save(photos / f"p{i}.jpg", quality=92)
    (found / "copy.jpg").write_bytes((photos / "p0.jpg").read_bytes())
    originals[1].resize((320, 240)).save(found / "small.jpg", quality=50)
    ImageOps.mirror(originals[2]).save(found / "mirror.png")
    originals[3].rotate(90, expand=True).save(found / "rot.png")
    for i in range(5):
        photo_like(900 + i, (400, 300)).save(found / f"other{i}.jpg")
    Image.new("RGB", (300, 300), (90, 90, 90)).save(found / "flat.png")
    (found / "empty.jpg").write_bytes(b"")
    (found / "text.png").write_text("not an image at all")
    data = (photos / "p0.jpg").read_bytes()
    (found / "cut.jpg").write_bytes(data[: len(data) // 4])
    (found / "sub").mkdir()
    with pytest.MonkeyPatch.context() as mp:  # hashing reads no database, writes no home
        mp.setenv("REMPART_HOME", str(root / "home"))
        mp.setenv("REMPART_DB", f"sqlite:///{root / 'unused.db'}")
        rempart("hash", str(photos), "--out", str(root / "h.json"))
    return root


@pytest.fixture
def world(made: Path, rempart_env: Path, consent_file: Path) -> Path:
    """Her photos hashed and banked; a folder of found files with copies, edits and junk."""
    shutil.copytree(made / "photos", rempart_env / "photos")
    shutil.copytree(made / "found", rempart_env / "found")
    shutil.copyfile(made / "h.json", rempart_env / "h.json")
    found = rempart_env / "found"
    (found / "sub" / "loop").symlink_to(found / "sub")  # a folder link loop
    rempart("bank", "create", "victim-cases")
    rempart(
        "bank",
        "import",
        "victim-cases",
        str(rempart_env / "h.json"),
        "--case",
        "CASE-1",
        "--consent",
        str(consent_file),
    )
    return rempart_env


def test_hash_file_holds_hashes_and_nothing_else(world: Path) -> None:
    data = json.loads((world / "h.json").read_text())
    assert len(data["items"]) == 4
    for item in data["items"]:
        assert set(item) == {
            "media_type",
            "pdq",
            "pdq_quality",
            "md5",
            "sha256",
            "width",
            "height",
            "pdq_variants",
            "local_features",
        }
        assert len(item["pdq"]) == 64 and item["pdq_quality"] >= 50
        # robust matching: only hashes and keypoint descriptors, never pixels
        assert all(set(v) == {"kind", "name", "pdq", "quality"} for v in item["pdq_variants"])
        assert len(item["local_features"]) < 30_000
        assert (item["width"], item["height"]) == (640, 480)
    assert "p0.jpg" not in (world / "h.json").read_text()


def test_scan_finds_copies_and_edits_and_reports_bad_files(world: Path) -> None:
    report = world / "r.json"
    rempart(
        "scan",
        str(world / "found"),
        "--bank",
        "victim-cases",
        "--report",
        str(report),
        "--workers",
        "2",
        code=3,
    )
    data = json.loads(report.read_text())
    by_file = {}
    for m in data["matches"]:
        by_file.setdefault(Path(m["file"]).name, []).append(m)
    assert set(by_file) == {"copy.jpg", "small.jpg", "mirror.png", "rot.png"}
    [copy] = by_file["copy.jpg"]
    assert copy["signal"] == "sha256" and copy["distance"] == 0 and copy["case"] == "CASE-1"
    assert by_file["small.jpg"][0]["signal"] == "pdq"
    assert by_file["small.jpg"][0]["distance"] <= 31
    assert by_file["mirror.png"][0]["transform"] == "flip_horizontal"
    assert by_file["rot.png"][0]["transform"] not in (None, "original")
    skipped = {Path(s["file"]).name: s["reason"] for s in data["skipped"]}
    assert set(skipped) == {"empty.jpg", "text.png", "cut.jpg", "loop"}
    assert skipped["empty.jpg"] == "empty-file" and skipped["loop"] == "symlink-loop"
    assert skipped["text.png"] == "not-an-image" and skipped["cut.jpg"] == "truncated"
    assert [Path(f).name for f in data["too_little_detail"]] == ["flat.png"]
    assert data["summary"]["files"] == 14 and data["summary"]["hashed"] == 10
    for s in data["skipped"]:
        assert s["file"] in s["detail"]  # the message names the file


def test_csv_report(world: Path) -> None:
    report = world / "r.csv"
    rempart(
        "scan",
        str(world / "found"),
        "--report",
        str(report),
        "--format",
        "csv",
        "--workers",
        "1",
        code=3,
    )
    rows = list(csv.DictReader(report.open()))
    statuses = [r["status"] for r in rows]
    assert statuses.count("match") == 4 and statuses.count("skipped") == 4
    assert statuses.count("too-little-detail") == 1
    assert {r["bank"] for r in rows if r["status"] == "match"} == {"victim-cases"}


def test_match_command_and_withdrawal_removes_everywhere(world: Path) -> None:
    item = json.loads((world / "h.json").read_text())["items"][0]
    out = rempart("match", item["pdq"], "--format", "json")
    hits = json.loads(out)
    assert {h["signal"] for h in hits} == {"pdq"} and hits[0]["distance"] == 0
    flipped = item["pdq"][:-1] + format(int(item["pdq"][-1], 16) ^ 0xF, "x")  # 4 bits away
    assert json.loads(rempart("match", flipped, "--format", "json"))[0]["distance"] == 4
    assert json.loads(rempart("match", item["md5"], "--format", "json"))[0]["signal"] == "md5"
    assert json.loads(rempart("match", flipped, "--threshold", "3", "--format", "json")) == []
    if os.environ["REMPART_DB"].startswith("postgresql"):
        # as autovacuum may have done by then: the planner's statistics (pg_statistic) hold
        # sample values of her hashes' columns (it failed now and then before the fix)
        execute(os.environ["REMPART_DB"], "ANALYZE")
    rempart("case", "withdraw", "CASE-1", "--yes")
    assert json.loads(rempart("match", item["pdq"], "--format", "json")) == []
    # Deleted for real: no trace of her hashes in the database file.
    blob = database_bytes(os.environ["REMPART_DB"])
    for key in ("pdq", "md5", "sha256"):
        assert item[key].encode() not in blob
    index_bytes = b"".join(p.read_bytes() for p in (world / "home").rglob("*") if p.is_file())
    assert bytes.fromhex(item["pdq"]) not in index_bytes


def test_import_without_consent_is_refused(world: Path) -> None:
    out = rempart(
        "bank", "import", "victim-cases", str(world / "h.json"), "--case", "CASE-2", code=1
    )
    assert "no consent record" in out


def test_index_rebuilds_when_its_files_are_stale_or_lost(world: Path) -> None:
    item = json.loads((world / "h.json").read_text())["items"][0]
    for token in (world / "home").rglob("token"):
        token.write_text("stale")
    assert json.loads(rempart("match", item["pdq"], "--format", "json"))[0]["distance"] == 0
    shutil.rmtree(world / "home" / "index")
    assert json.loads(rempart("match", item["pdq"], "--format", "json"))[0]["distance"] == 0


def test_unknown_bank_and_malformed_submission(world: Path) -> None:
    assert "no bank named" in rempart("scan", str(world / "found"), "--bank", "nope", code=1)
    bad = world / "bad.json"
    bad.write_text('{"format": "rempart-hash-submission", "version": 1, "items": [')
    out = rempart("bank", "import", "victim-cases", str(bad), "--case", "C", code=1)
    assert "bad.json" in out and "malformed JSON" in out


def test_real_command_exit_codes(world: Path) -> None:
    exe = Path(sys.executable).parent / "rempart"
    ok = subprocess.run([exe, "scan", str(world / "found" / "copy.jpg")], capture_output=True)
    assert ok.returncode == 0, ok.stderr
    skipped = subprocess.run([exe, "scan", str(world / "found")], capture_output=True, text=True)
    assert skipped.returncode == 3 and "skipped" in skipped.stderr
