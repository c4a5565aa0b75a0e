"""Her browser's hash file equals the CLI's: the same generated photos hashed by the real page
in Debian's chromium and by `rempart hash --out` give the same PDQ, quality, MD5, SHA-256,
size and PDQ variants (and both carry local features); bad files chosen in the page are
listed with their reasons while the others are still hashed, as the CLI skips them."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.web.hashpage.conftest import HashPageRun
from tests.web.hashpage.nodejs import cli_items

from rempart.samples import photo_like

EXACT_FIELDS = ("media_type", "pdq", "pdq_quality", "md5", "sha256", "width", "height")


def generated(folder: Path) -> list[Path]:
    out = []
    for seed, size, fmt in (
        (61, (640, 480), "JPEG"),
        (62, (333, 251), "PNG"),
        (63, (1200, 900), "JPEG"),
        (64, (480, 720), "WEBP"),
    ):
        path = folder / f"photo-{seed}.{fmt.lower()}"
        photo_like(seed, size).save(path, fmt, **({"quality": 88} if fmt != "PNG" else {}))
        out.append(path)
    return out


def test_page_file_equals_cli_file(hash_page: HashPageRun, tmp_path: Path) -> None:
    paths = generated(tmp_path)
    page_sub = hash_page.hash_files(paths)
    assert page_sub["format"] == "rempart-hash-submission" and page_sub["version"] == 1
    page_items = {i["sha256"]: i for i in page_sub["items"]}
    cli = cli_items(paths, tmp_path / "cli.json")
    names = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in paths}
    assert set(page_items) == set(cli)
    for sha, expected in cli.items():
        got = page_items[sha]
        name = names[sha]
        fields = {k: got.get(k) for k in EXACT_FIELDS}
        assert fields == {k: expected.get(k) for k in EXACT_FIELDS}, name
        assert got.get("pdq_variants") == expected.get("pdq_variants"), name
        assert isinstance(got.get("local_features"), str) and got["local_features"]
        assert got["local_features"] == expected.get("local_features"), name  # byte for byte
        assert "path" not in got  # no file name leaves her page
    assert set(page_sub) == {"format", "version", "created_at", "generator", "items", "consent"}


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def test_large_jpeg_equal_to_cli(hash_page: HashPageRun, tmp_path: Path) -> None:
    """A JPEG of 1024 px or more on its short side: scans decode it at reduced size (DCT
    scaling, rempart.media.decode's draft mode), which a browser cannot, but what a bank keeps
    (`rempart hash`) is decoded at full size like the page's: the two files are equal, robust
    stage included (before, the CLI's PDQ was 2-6 bits from the page's)."""
    path = tmp_path / "large.jpg"
    photo_like(65, (1600, 1200)).save(path, "JPEG", quality=88)
    got = hash_page.hash_files([path])["items"][0]
    want = next(iter(cli_items([path], tmp_path / "cli.json").values()))
    for k in (
        "md5",
        "sha256",
        "width",
        "height",
        "pdq",
        "pdq_quality",
        "pdq_variants",
        "local_features",
    ):
        assert got[k] == want[k], k
    print(f"large JPEG: page PDQ {hamming(got['pdq'], want['pdq'])} bits from the CLI's")


def test_bad_files_are_listed_and_the_rest_hashed(hash_page: HashPageRun, tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    photo_like(71, (400, 300)).save(good, "JPEG", quality=90)
    data = good.read_bytes()
    (tmp_path / "letter.jpg").write_text("Dear helpline, this is not a picture.\n")
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
    (tmp_path / "IMG_0001.HEIC").write_bytes(heic)
    names = ["letter.jpg", "truncated.jpg", "empty.jpg", "IMG_0001.HEIC", "good.jpg"]
    hash_page.choose([tmp_path / n for n in names])
    hash_page.wait_all_finished()
    entries = {e["name"]: e for e in hash_page.entries()}
    codes = {n: entries[n]["code"] for n in names}
    assert codes == {
        "letter.jpg": "not-media",
        "truncated.jpg": "undecodable",
        "empty.jpg": "undecodable",
        "IMG_0001.HEIC": "heic-unsupported",
        "good.jpg": None,
    }, entries
    assert "empty" in entries["empty.jpg"]["message"]
    listed = hash_page.page.inner_text("#failed-list")
    for name in names[:4]:
        assert name in listed
    assert "JPEG" in listed  # how to share a HEIC photo instead
    hash_page.agree()
    sub = hash_page.download()
    assert [i["sha256"] for i in sub["items"]] == [entries["good.jpg"]["item"]["sha256"]]
    # The CLI skips the same three files it can see (it does not read HEIC either).
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rempart",
            "hash",
            *(str(tmp_path / n) for n in names[:3]),
            str(good),
            "--out",
            str(tmp_path / "cli.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 3
    assert len(json.loads((tmp_path / "cli.json").read_text())["items"]) == 1
