"""Special files in a scanned folder (a FIFO, a socket) are reported as skipped with the
reason, never silently dropped and never opened; flat pictures are named in the summaries;
an unknown bank's error says how to create it (issue 19)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.output


def special_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "found"
    folder.mkdir()
    photo_like(3, (200, 150)).save(folder / "a.jpg", quality=85)
    os.mkfifo(folder / "pipe.jpg")  # a FIFO named like a photo: opening it would block
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock"))
    sock.close()
    return folder


def test_folder_walk_reports_fifo_and_socket(tmp_path: Path) -> None:
    folder = special_folder(tmp_path)
    found = list(iter_folder([folder]))
    assert [f.locator for f in found if isinstance(f, MediaRef)] == [str(folder / "a.jpg")]
    problems = {Path(p.locator).name: p for p in found if isinstance(p, SourceProblem)}
    assert set(problems) == {"pipe.jpg", "sock"}
    assert problems["pipe.jpg"].reason == "special-file"
    assert "named pipe (FIFO)" in problems["pipe.jpg"].detail
    assert "pipe.jpg" in problems["pipe.jpg"].detail
    assert "a socket" in problems["sock"].detail


def test_scan_and_hash_list_special_files_as_skipped(rempart_env: Path) -> None:
    folder = special_folder(rempart_env)
    rempart("bank", "create", "b")
    report = rempart_env / "r.json"
    out = rempart("scan", str(folder), "--bank", "b", "--report", str(report), code=3)
    assert "pipe.jpg" in out and "FIFO" in out
    data = json.loads(report.read_text())
    skipped = {Path(s["file"]).name: s for s in data["skipped"]}
    assert skipped["pipe.jpg"]["reason"] == "special-file"
    assert data["summary"]["hashed"] == 1 and data["summary"]["skipped"] == 2
    out = rempart("hash", str(folder), "--out", str(rempart_env / "s.json"), code=3)
    assert "pipe.jpg" in out and "2 skipped" in out


def test_flat_pictures_are_named(rempart_env: Path) -> None:
    folder = rempart_env / "photos"
    folder.mkdir()
    photo_like(4, (200, 150)).save(folder / "ok.jpg", quality=90)
    Image.new("RGB", (200, 150), (120, 120, 120)).save(folder / "grey-wall.png")
    out = rempart("hash", str(folder), "--out", str(rempart_env / "s.json"))
    assert "1 with too little detail for PDQ" in out
    assert "grey-wall.png" in out.split("too little detail for PDQ", 1)[1]
    rempart("bank", "create", "b")
    out = rempart("scan", str(folder), "--bank", "b")
    assert "too little detail to hash" in out and "grey-wall.png" in out


def test_unknown_bank_error_says_how_to_create_it(rempart_env: Path) -> None:
    lst = rempart_env / "list.csv"
    lst.write_text("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22\n")
    out = rempart("bank", "import-list", "partner-hashes", str(lst), "--partner", "x", code=1)
    assert "no bank named 'partner-hashes'" in out
    assert "rempart bank create partner-hashes" in out.replace("\n", " ")
    key = rempart_env / "k.key"
    key.write_text("rmp_0123abcd_" + "a" * 43 + "\n")
    key.chmod(0o600)
    out = rempart(
        "sync",
        "pull",
        "http://127.0.0.1:9",
        "--bank",
        "victim-cases",
        "--into",
        "from-other-helpline",
        "--key-file",
        str(key),
        "--partner",
        "o",
        code=1,
    )
    assert "rempart bank create from-other-helpline" in out.replace("\n", " ")
