"""Matches whose media came as bytes (a zip member, a download) once had no preview: the scan
keeps a small greyscale review copy, encrypted under the media key, so the blurred preview and
the audited reveal work as for a folder file; never revealed for a possible minor; deleted
(file and row) on rejection and on withdrawal."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from rempart.samples import photo_like, scene_frames, write_video
from rempart.store import review_copies
from tests.cases.test_media_rules import web_client
from tests.cases.test_review import rempart

SIZE = (1200, 900)  # found pictures larger than a review copy (longest side 512)


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    photo_like(seed, SIZE).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A real HTTP server on loopback serving one of her photos and an unrelated one."""
    files = {"/found.jpg": _jpeg(2), "/other.jpg": _jpeg(7)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def _copies(home: Path) -> list[tuple[int | None, str]]:
    """The review-copy rows, read straight from the SQLite file REMPART_DB names."""
    with sqlite3.connect(os.environ["REMPART_DB"].removeprefix("sqlite:///")) as con:
        return con.execute("SELECT match_id, path FROM review_copies ORDER BY id").fetchall()


def _scan_zip_and_urls(env: Path, consent: Path, server: str) -> dict[str, str]:
    """Her two photos banked (case C-9); a zip holding photo 1 and another photo, and a URL
    list naming photo 2 and another; returns the refs by where they were found."""
    hers = env / "hers"
    hers.mkdir()
    for s in (1, 2):
        (hers / f"{s}.jpg").write_bytes(_jpeg(s))
    rempart("hash", str(hers), "--out", str(env / "s.json"))
    rempart("bank", "create", "b")
    rempart("bank", "import", "b", str(env / "s.json"), "--case", "C-9", "--consent", str(consent))
    found = env / "found"
    found.mkdir()
    with zipfile.ZipFile(found / "room.zip", "w") as zf:
        zf.writestr("media/her.jpg", _jpeg(1))
        zf.writestr("media/other.jpg", _jpeg(8))
    links = env / "links.txt"
    links.write_text(f"{server}/found.jpg\n{server}/other.jpg\n")
    rempart(
        "scan",
        str(found),
        "--urls",
        str(links),
        "--bank",
        "b",
        "--allow-network",
        "127.0.0.1/32",
    )
    items = json.loads(rempart("review", "list", "--format", "json"))
    refs = {("zip" if "room.zip" in i["file"] else "url"): i["ref"] for i in items}
    assert len(items) == 2 and set(refs) == {"zip", "url"}, items
    return refs


def test_review_copies_of_archive_members_and_downloads(
    rempart_env: Path, consent_file: Path, server: str
) -> None:
    home = rempart_env / "home"
    refs = _scan_zip_and_urls(rempart_env, consent_file, server)
    copies = _copies(home)
    assert len(copies) == 2  # the matched items only, not the other photos scanned
    for _, path in copies:
        blob = Path(path).read_bytes()
        assert Path(path).parent == home / "evidence"
        # encrypted at rest: no picture's magic, and far from the original's size
        assert not blob.startswith((b"\x89PNG", b"\xff\xd8")) and b"JFIF" not in blob
    for ref in refs.values():  # blurred previews, CLI and web
        out = rempart_env / f"{ref}.png"
        rempart("review", "preview", ref, "--out", str(out))
        picture = Image.open(out)
        assert picture.mode == "L" and max(picture.size) <= 320
    # the reveal: greyscale, at most the copy's 512 px (never the original), audited
    out = rempart_env / "clear.png"
    rempart("review", "preview", refs["zip"], "--out", str(out), "--reveal")
    clear = Image.open(out)
    assert clear.mode == "L" and max(clear.size) == 512 < max(SIZE)
    log = json.loads(rempart("audit", "list", "--format", "json"))
    assert [e["details"]["match"] for e in log if e["action"] == "reveal"] == [refs["zip"]]
    client, token = web_client("C-9")
    with client:
        r = client.get(f"/ui/matches/{refs['url']}/preview.png")
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
        r = client.post(f"/ui/matches/{refs['url']}/reveal", data={"csrf": token})
        assert r.status_code == 200 and "data:image/png;base64," in r.text
    log = json.loads(rempart("audit", "list", "--format", "json"))
    assert [e["details"]["match"] for e in log if e["action"] == "reveal"][-1] == refs["url"]
    # a possible minor: the blurred preview still, never the reveal (CLI)
    clear_copy = [p for m, p in copies if f"m{m}" == refs["url"]]
    rempart("review", "flag-minor", refs["url"], "--reason", "looks young")
    rempart("review", "preview", refs["url"], "--out", str(out))
    rempart("review", "preview", refs["url"], "--out", str(out), "--reveal", code=1)
    with client:
        r = client.post(f"/ui/matches/{refs['url']}/reveal", data={"csrf": token})
        assert r.status_code == 403 and "data:image" not in r.text
    # ... and nothing clearer than the blurred preview is kept of it any more
    with sqlite3.connect(os.environ["REMPART_DB"].removeprefix("sqlite:///")) as con:
        url_copy = con.execute(
            "SELECT path, width, height FROM review_copies WHERE match_id = ?",
            (int(refs["url"][1:]),),
        ).fetchone()
    assert max(url_copy[1:]) <= 320 and not Path(clear_copy[0]).exists()
    # rejection: her copy of this match goes, file and row
    rempart("review", "decide", refs["url"], "not-her", "--reason", "another person")
    assert not Path(url_copy[0]).exists()
    assert [f"m{m}" for m, _ in _copies(home)] == [refs["zip"]]
    # withdrawal: the rest goes
    rempart("case", "withdraw", "C-9", "--yes")
    assert _copies(home) == [] and not list((home / "evidence").glob("*.bin"))


def test_a_video_from_bytes_keeps_its_frame_at_the_matched_moment(tmp_path: Path) -> None:
    """A video member or download: its copy is the frame at the matched moment, greyscale and
    at most 512 px, made from the bytes (the scan's temporary file is gone)."""
    frames = scene_frames(3, 9, 4, (640, 360))  # a new scene every 4 seconds
    data = write_video(tmp_path / "v.mp4", frames, fps=4).read_bytes()
    moment = review_copies.moment({"query_ranges": [[5.0, 7.0]]})
    picture = review_copies.picture_of(data, Path("room.zip!v.mp4"), video=True, at=moment)
    grey = review_copies.small_grey(picture)
    assert grey.mode == "L" and max(grey.size) == 512
    later = np.asarray(ImageOps.grayscale(Image.fromarray(frames[20])), dtype=float)
    first = np.asarray(ImageOps.grayscale(Image.fromarray(frames[0])), dtype=float)
    seen = np.asarray(ImageOps.grayscale(picture), dtype=float)
    assert np.abs(seen - later).mean() < np.abs(seen - first).mean()  # the moment, not frame 0


def test_a_restored_older_database_loses_the_withdrawn_copies_again(
    rempart_env: Path, consent_file: Path, server: str
) -> None:
    """A backup taken before her withdrawal holds her matches' review copies (rows and
    encrypted files). Restored, the withdrawal ledger's re-application deletes them again
    with her bank entries, not only the hashes."""
    from rempart.store import withdrawal_ledger
    from rempart.store.bank_index import BankIndex
    from rempart.store.db import Database

    home = rempart_env / "home"
    _scan_zip_and_urls(rempart_env, consent_file, server)
    copies = _copies(home)
    assert len(copies) == 2
    db_file = Path(os.environ["REMPART_DB"].removeprefix("sqlite:///"))
    with sqlite3.connect(db_file) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    saved_db = rempart_env / "before.db"
    saved_files = {p: Path(p).read_bytes() for _, p in copies}
    with sqlite3.connect(db_file) as live, sqlite3.connect(saved_db) as copy:
        live.backup(copy)
    rempart("case", "withdraw", "C-9", "--yes")
    assert _copies(home) == [] and not any(Path(p).exists() for p in saved_files)
    # the older backup put back: database and files
    with sqlite3.connect(saved_db) as old, sqlite3.connect(db_file) as live:
        old.backup(live)
    for path, data in saved_files.items():
        Path(path).write_bytes(data)
    db = Database(os.environ["REMPART_DB"])
    done = withdrawal_ledger.enforce(BankIndex(db, home), home, reason="restore")
    db.dispose()
    assert done.changed
    assert _copies(home) == [] and not any(Path(p).exists() for p in saved_files)
