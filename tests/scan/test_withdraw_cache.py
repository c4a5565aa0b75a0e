"""`rempart case withdraw` also purges the hash cache of scanned copies that matched her
pictures (issue 19: the cache kept near-identical hashes of her pictures after a
withdrawal); content that matched nothing of hers stays cached."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from rempart.signals.exact import file_digests

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.output


def cached(home: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (home / "cache" / "hashes").rglob("*.json")}


def test_withdrawal_purges_cached_hashes_of_her_copies(
    rempart_env: Path, consent_file: Path
) -> None:
    hers = rempart_env / "hers"
    hers.mkdir()
    for seed in (31, 32):
        photo_like(seed, (320, 240)).save(hers / f"{seed}.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(rempart_env / "sub.json"), "--no-robust")
    rempart("bank", "create", "b")
    rempart(
        "bank",
        "import",
        "b",
        str(rempart_env / "sub.json"),
        "--case",
        "CASE-W",
        "--consent",
        str(consent_file),
    )
    found = rempart_env / "found"
    found.mkdir()
    photo_like(31, (320, 240)).save(found / "copy31.jpg", quality=80)
    photo_like(32, (320, 240)).save(found / "copy32.jpg", quality=80)
    photo_like(77, (320, 240)).save(found / "other.jpg", quality=80)
    rempart("scan", str(found), "--bank", "b", "--no-robust")
    sha = {p.name: file_digests(p)[1] for p in found.iterdir()}
    home = rempart_env / "home"
    assert set(sha.values()) <= cached(home)

    pdq = json.loads((rempart_env / "sub.json").read_text())["items"][0]["pdq"]
    entry = json.loads(rempart("match", pdq, "--format", "json"))[0]["bank_entry"]
    rempart("case", "withdraw", "CASE-W", "--item", str(entry))  # one of her photos
    assert len(set(sha.values()) & cached(home)) == 2  # its copy's cached hashes went

    rempart("case", "withdraw", "CASE-W", "--yes")
    left = cached(home)
    assert sha["copy31.jpg"] not in left and sha["copy32.jpg"] not in left
    assert sha["other.jpg"] in left
