"""The robust stage's stored side in her browser: real photos (the faces set and the
threatexchange PDQ images, written as PNG so that the page and the CLI decode the same pixels)
hashed by the real page in Debian's chromium carry the same PDQ variants and the same local
features, byte for byte, as `rempart hash --out` writes for them; with keypoints unticked the
page leaves the local features out, as --no-keypoints does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.web.hashpage.conftest import HashPageRun

from rempart.media.decode import decode_image
from rempart.samples import photo_like

ROOT = Path(__file__).resolve().parents[3]
TESTDATA = ROOT.parent / "shared" / "testdata"


def photos(folder: Path) -> list[Path]:
    sources = sorted((TESTDATA / "faces").rglob("*.jp*g")) + sorted(
        (TESTDATA / "threatexchange" / "pdq" / "data" / "bridge-mods").glob("*.jpg")
    )
    if not sources:
        pytest.skip("shared test data missing")
    out = []
    for k, src in enumerate(sources[::5][:5]):
        path = folder / f"real-{k}.png"
        decode_image(src.read_bytes(), src).image.convert("RGB").save(path)
        out.append(path)
    path = folder / "generated.png"
    photo_like(81, (900, 700)).save(path)
    return [*out, path]


def cli_items(paths: list[Path], out: Path, *flags: str) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rempart",
            "hash",
            *map(str, paths),
            "--out",
            str(out),
            "--workers",
            "1",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return {i["sha256"]: i for i in json.loads(out.read_text())["items"]}


def test_page_stores_the_clis_variants_and_features(hash_page: HashPageRun, tmp_path: Path) -> None:
    paths = photos(tmp_path)
    page = {i["sha256"]: i for i in hash_page.hash_files(paths)["items"]}
    cli = cli_items(paths, tmp_path / "cli.json")
    assert set(page) == set(cli)
    with_features = 0
    for sha, want in cli.items():
        got = page[sha]
        for key in ("pdq", "pdq_quality", "pdq_variants", "local_features"):
            assert got.get(key) == want.get(key), key
        with_features += "local_features" in want
    assert with_features >= 5


def test_page_without_keypoints(hash_page: HashPageRun, tmp_path: Path) -> None:
    path = photos(tmp_path)[0]
    hash_page.page.click("details.options summary")  # the options are folded away
    hash_page.page.uncheck("#opt-keypoints")
    got = hash_page.hash_files([path])["items"][0]
    want = next(iter(cli_items([path], tmp_path / "cli.json", "--no-keypoints").values()))
    assert "local_features" not in got and "local_features" not in want
    assert got["pdq_variants"] == want["pdq_variants"]
