"""The robust stage through the real CLI: `rempart hash` keeps crop/rotation/region hashes
and keypoints, `rempart scan` finds crops, pads, screenshots, tilted and partly replaced
copies, says how, and nothing else matches; bad inputs get a clear note."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like

runner = CliRunner()
# her photos; the last one's upper third has detail (a composite that keeps a flat sky
# cannot be found by anything: bench/robustness.py measures how often that happens)
SEEDS = (300, 301, 302, 303, 304, 308)


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})  # no wrapped paths
    assert result.exit_code == code, result.output
    return result.output


def _screenshot(img: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (img.width + 40, img.height + 220), (245, 245, 245))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, img.width + 40, 90), fill=(40, 40, 60))
    draw.text((20, 30), "12:41  chat", fill=(255, 255, 255))
    canvas.paste(img, (20, 110))
    return canvas


def _replaced(img: Image.Image, filler: Image.Image, area: float) -> Image.Image:
    w, h = img.size
    rw, rh = int(w * area**0.5), int(h * area**0.5)
    out = img.copy()
    out.paste(filler.resize((rw, rh)), ((w - rw) // 2, h - rh - int(h * 0.05)))
    return out


def _blur_pad(img: Image.Image) -> Image.Image:
    canvas = img.resize((img.width * 7 // 5, img.height * 7 // 5)).filter(
        ImageFilter.GaussianBlur(20)
    )
    canvas.paste(img, (img.width // 5, img.height // 5))
    return canvas


@pytest.fixture(scope="module")
def hash_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Her photos through `rempart hash` once per module (it writes a file, not the
    database: about 5 s of CPU); each test banks the file in its own database."""
    folder = tmp_path_factory.mktemp("robust-hashes")
    photos = folder / "photos"
    photos.mkdir()
    for i, seed in enumerate(SEEDS):
        photo_like(seed, (640, 480)).save(photos / f"p{i}.png")
    Image.new("RGB", (640, 480), (120, 120, 120)).save(photos / "flat.png")
    photo_like(399, (50, 40)).save(photos / "tiny.png")
    env = {"REMPART_HOME": str(folder / "home"), "REMPART_DB": str(folder / "unused.db")}
    result = runner.invoke(app, ["hash", str(photos), "--out", str(folder / "h.json")], env=env)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "2 with not enough content for crop/region/keypoint matching" in out
    return folder / "h.json"


@pytest.fixture
def banked(rempart_env: Path, consent_file: Path, hash_file: Path) -> Path:
    shutil.copyfile(hash_file, rempart_env / "h.json")
    rempart("bank", "create", "b")
    rempart(
        "bank",
        "import",
        "b",
        str(rempart_env / "h.json"),
        "--case",
        "C-1",
        "--consent",
        str(consent_file),
    )
    return rempart_env


@pytest.mark.both_databases
def test_edited_copies_are_found_with_the_method_and_area(banked: Path) -> None:
    src = [photo_like(seed, (640, 480)) for seed in SEEDS]
    filler = photo_like(4242, (640, 480))
    found = banked / "found"
    found.mkdir()
    w, h = 640, 480
    copies = {
        "crop.jpg": src[0].crop((40, 30, w - 40, h - 30)),
        "pad.png": _blur_pad(src[1]),
        "shot.png": _screenshot(src[2]),
        "tilt.png": src[3].rotate(8, expand=True),
        "replaced.png": _replaced(src[4], filler, 0.5),
        "mirrored_framed.png": ImageOps.mirror(_blur_pad(src[0])),
        "mirrored_replaced.png": ImageOps.mirror(_replaced(src[2], filler, 0.5)),
    }
    composite = filler.copy()  # the upper third (face, hair) kept, the rest replaced
    composite.paste(src[5].crop((0, 0, w, h // 3)), (0, 0))
    copies["face_kept.png"] = composite
    for name, img in copies.items():
        img.convert("RGB").save(found / name, quality=90)
    for k in range(12):  # unrelated pictures, some in the same frames
        other = photo_like(7000 + k, (480, 360))
        (_screenshot(other) if k % 3 == 0 else _blur_pad(other) if k % 3 == 1 else other).save(
            found / f"other{k}.png"
        )
    Image.new("RGB", (500, 400), (120, 120, 120)).save(found / "flat.png")
    rempart("scan", str(found), "--bank", "b", "--report", str(banked / "r.json"), "--workers", "1")
    report = json.loads((banked / "r.json").read_text())
    by_file = {Path(m["file"]).name: m for m in report["matches"]}
    assert set(by_file) == set(copies), sorted(by_file)
    for m in by_file.values():
        assert m["details"]["score"] <= 1.0 and m["details"]["method"] == m["signal"]
        assert m["area"]
    assert by_file["crop.jpg"]["signal"] in ("pdq-crop", "local-features")
    assert by_file["pad.png"]["signal"] in ("pdq-trimmed", "pdq-region", "local-features")
    assert by_file["tilt.png"]["signal"] in ("pdq-deskewed", "local-features")
    for name in ("mirrored_framed.png", "mirrored_replaced.png"):  # found, and said mirrored
        assert by_file[name]["transform"] == "flip_horizontal", by_file[name]
    lf = [m for m in by_file.values() if m["signal"] == "local-features"]
    for m in lf:  # the verifier says where it matched
        area = m["details"]["local_features"]["bank_area"]
        assert 0 <= area[0] < area[2] <= 1 and 0 <= area[1] < area[3] <= 1
    # the plain scan (no robust stage) finds fewer of them
    rempart(
        "scan",
        str(found),
        "--bank",
        "b",
        "--report",
        str(banked / "plain.json"),
        "--workers",
        "1",
        "--no-robust",
    )
    plain = json.loads((banked / "plain.json").read_text())
    assert len({m["file"] for m in plain["matches"]}) < len(copies)


def test_flat_pictures_never_match_each_other(banked: Path) -> None:
    found = banked / "flat"
    found.mkdir()
    for k, grey in enumerate((118, 121, 125, 200)):  # her flat picture is grey 120
        Image.new("RGB", (640, 480), (grey, grey, grey)).save(found / f"flat{k}.png")
    Image.new("RGB", (600, 400), (120, 120, 120)).save(found / "flat-resized.png")
    for k in range(3):  # mostly border: a small unrelated picture on a large white page
        page = Image.new("RGB", (1000, 1400), (255, 255, 255))
        page.paste(photo_like(8100 + k, (120, 90)), (440, 655))
        page.save(found / f"page{k}.png")
    Image.new("RGB", (40, 40), (10, 200, 10)).save(found / "tiny.png")
    rempart("scan", str(found), "--bank", "b", "--report", str(banked / "r.json"), "--workers", "1")
    report = json.loads((banked / "r.json").read_text())
    assert report["matches"] == []
    assert len(report["too_little_detail"]) >= 5


def test_hash_file_has_variants_and_features_only_for_detailed_photos(banked: Path) -> None:
    items = json.loads((banked / "h.json").read_text())["items"]
    detailed = [i for i in items if i.get("local_features")]
    assert len(detailed) == 6
    assert all(len(i["pdq_variants"]) >= 10 for i in detailed)
    rest = [i for i in items if not i.get("local_features")]
    assert len(rest) == 2 and all(not i.get("pdq_variants") for i in rest)


def test_no_robust_hash_file_is_as_before(rempart_env: Path) -> None:
    photo_like(1, (320, 240)).save(rempart_env / "p.png")
    rempart("hash", str(rempart_env / "p.png"), "--out", str(rempart_env / "h.json"), "--no-robust")
    item = json.loads((rempart_env / "h.json").read_text())["items"][0]
    assert "pdq_variants" not in item and "local_features" not in item


def test_no_keypoints_keeps_variants_only(rempart_env: Path) -> None:
    photo_like(2, (320, 240)).save(rempart_env / "p.png")
    rempart(
        "hash", str(rempart_env / "p.png"), "--out", str(rempart_env / "h.json"), "--no-keypoints"
    )
    item = json.loads((rempart_env / "h.json").read_text())["items"][0]
    assert item["pdq_variants"] and "local_features" not in item


def test_damaged_features_in_a_hash_file_are_refused_by_name(
    banked: Path, consent_file: Path
) -> None:
    doc = json.loads((banked / "h.json").read_text())
    first, second = [i for i in doc["items"] if i.get("local_features")][:2]
    first["local_features"] = "AAAA" + first["local_features"][8:]
    second["pdq_variants"][0]["kind"] = "body"
    bad = banked / "bad.json"
    bad.write_text(json.dumps(doc))
    out = rempart(
        "bank", "import", "b", str(bad), "--case", "C-2", "--consent", str(consent_file), code=1
    )
    assert "bad.json" in out and "local features" in out


@pytest.mark.both_databases
def test_withdrawal_removes_variants_features_and_their_index(banked: Path) -> None:
    home = banked / "home"
    src = photo_like(300, (640, 480))
    found = banked / "found"
    found.mkdir()
    src.crop((60, 40, 580, 440)).save(found / "crop.png")
    rempart("scan", str(found), "--bank", "b", "--workers", "1")
    assert list(home.glob("index/*/features/descriptors.npy"))
    items = json.loads((banked / "h.json").read_text())["items"]
    pieces = [i["local_features"][1000:1060].encode() for i in items if "local_features" in i]
    database = next(home.parent.glob("*.db"), None)

    def on_disk() -> bytes:  # the database file and its write-ahead log
        assert database is not None
        wal = database.with_name(database.name + "-wal")
        return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    if database is not None:
        assert any(p in on_disk() for p in pieces)  # stored before
    rempart("case", "withdraw", "C-1", "--yes")
    assert not list(home.glob("index/*/features/descriptors.npy"))
    if database is not None:  # SQLite: no descriptor left in the file (secure_delete)
        assert not any(p in on_disk() for p in pieces)
    rempart("scan", str(found), "--bank", "b", "--report", str(banked / "r.json"), "--workers", "1")
    assert json.loads((banked / "r.json").read_text())["matches"] == []


def test_match_command_finds_a_crop_by_its_hash_once_per_entry(banked: Path) -> None:
    from rempart.signals.pdq import pdq_hash
    from rempart.signals.pdq_variants import work_copy

    src = photo_like(SEEDS[0], (640, 480))
    crop = work_copy(src).crop((13, 10, 499, 374))  # 95% of each side kept
    whole = json.loads(rempart("match", pdq_hash(src).hex, "--format", "json"))
    assert [h["signal"] for h in whole] == ["pdq"]  # one hit for her photo, not one a variant
    entry = whole[0]["bank_entry"]
    hits = json.loads(rempart("match", pdq_hash(crop).hex, "--format", "json"))
    assert [(h["bank_entry"], h["signal"]) for h in hits] == [(entry, "pdq-crop")]
    assert hits[0]["details"]["variant"] == "crop95"
