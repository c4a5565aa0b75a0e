"""Scans of Telegram exports and archives with provenance, and a scan resumed after SIGKILL."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from tests.sources.telegram_factory import chat_export

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.output


def bank_photos(home: Path, consent: Path, seeds: list[int]) -> None:
    folder = home / "hers"
    folder.mkdir()
    for s in seeds:
        photo_like(s, (320, 240)).save(folder / f"{s}.jpg", quality=90)
    rempart("hash", str(folder), "--out", str(home / "sub.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank", "import", "b", str(home / "sub.json"), "--case", "CASE-S", "--consent", str(consent)
    )


def test_telegram_export_and_archive_matches_carry_provenance(
    rempart_env: Path, consent_file: Path
) -> None:
    bank_photos(rempart_env, consent_file, [1, 77])
    found = rempart_env / "found"
    chat_export(found / "export", photo_seeds=(1, 2))  # message 2 carries her photo 1
    buf = io.BytesIO()
    photo_like(77, (320, 240)).save(buf, "JPEG", quality=80)
    with zipfile.ZipFile(found / "from-police.zip", "w") as zf:
        zf.writestr("dump/her.jpg", buf.getvalue())
    report = rempart_env / "r.json"
    rempart("scan", str(found), "--bank", "b", "--report", str(report), code=3)
    data = json.loads(report.read_text())
    prov = {m["provenance"]["source"]: m["provenance"] for m in data["matches"]}
    assert prov["telegram"]["chat"] == "Room A" and prov["telegram"]["message_id"] == "2"
    assert prov["telegram"]["from"] == "Sender One" and prov["telegram"]["caption"] == "look here"
    assert prov["archive"]["member"] == "dump/her.jpg"
    assert {Path(s["file"]).name for s in data["not_exported"]} >= {"missing.jpg#message=6"}
    assert data["summary"]["not_exported"] == 3
    assert {s["reason"] for s in data["skipped"]} == {"path-outside-export"}
    rempart(
        "scan",
        str(found),
        "--bank",
        "b",
        "--report",
        str(rempart_env / "r.csv"),
        "--format",
        "csv",
        code=3,
    )
    rows = list(csv.DictReader((rempart_env / "r.csv").open()))
    tg = next(r for r in rows if r["status"] == "match" and r["source"] == "telegram")
    assert tg["chat"] == "Room A" and tg["sender"] == "Sender One" and tg["message_id"] == "2"


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_scan_killed_with_sigkill_resumes_without_redoing_or_losing(
    rempart_env: Path, consent_file: Path
) -> None:
    her = list(range(500, 520))
    bank_photos(rempart_env, consent_file, her)
    found = rempart_env / "found"
    found.mkdir()
    for k in range(420):
        seed = her[k % 20] if k % 21 == 0 else 10_000 + k
        photo_like(seed, (240, 180)).save(found / f"{k:04d}.jpg", quality=85)
    n_copies = len([k for k in range(420) if k % 21 == 0])
    db = rempart_env / "rempart.db"
    env = {**os.environ, "REMPART_DB": str(db), "REMPART_HOME": str(rempart_env / "home")}
    cmd = [
        sys.executable,
        "-m",
        "rempart",
        "scan",
        str(found),
        "--bank",
        "b",
        "--workers",
        "1",
        "--report",
        str(rempart_env / "first.json"),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    before = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            before = _count(db, "select count(*) from scan_items")
        except sqlite3.OperationalError:
            before = 0
        if before >= 128:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _count(db, "select count(*) from scan_items")
    assert 64 <= before < 420, before  # killed halfway, whole batches recorded
    assert _count(db, "select count(*) from scan_runs where status = 'running'") == 1
    first_ids = _count(db, "select max(id) from scan_items")
    out = rempart("scan", "--resume", "--report", str(rempart_env / "final.json"))
    assert "Resuming scan" in out
    data = json.loads((rempart_env / "final.json").read_text())
    assert data["summary"]["files"] == 420 and data["summary"]["hashed"] == 420
    assert len(data["matches"]) == n_copies  # none lost, none twice
    assert _count(db, "select count(*) from scan_items") == 420
    assert _count(db, "select count(distinct locator) from scan_items") == 420
    # the items recorded before the kill were not redone: same rows, new ones after them
    assert _count(db, f"select count(*) from scan_items where id <= {first_ids}") == before
    assert _count(db, "select count(*) from matches") == n_copies
    assert _count(db, "select count(*) from scan_runs where status = 'finished'") == 1
    rempart("scan", "--resume", code=1)  # nothing left to resume


def test_rescanning_unchanged_files_reuses_hashes_by_content(
    rempart_env: Path, consent_file: Path
) -> None:
    from rempart.samples import scene_frames, write_video

    bank_photos(rempart_env, consent_file, [3, 4])
    found = rempart_env / "found"
    found.mkdir()
    photo_like(3, (320, 240)).save(found / "copy.png")
    photo_like(99, (320, 240)).save(found / "other.png")
    write_video(found / "v.mp4", scene_frames(1, 3, 10, (160, 120)))
    first, second = rempart_env / "1.json", rempart_env / "2.json"
    rempart("scan", str(found), "--bank", "b", "--report", str(first))
    # a damaged cache entry is ignored and rewritten
    cache = next((rempart_env / "home" / "cache" / "hashes").rglob("*.json"))
    cache.write_text("{broken")
    (found / "copy-renamed.png").write_bytes((found / "copy.png").read_bytes())
    rempart("scan", str(found), "--bank", "b", "--report", str(second))
    a, b = (json.loads(p.read_text()) for p in (first, second))
    assert a["summary"]["known_content_reused"] == 0
    assert b["summary"]["known_content_reused"] == 3  # 4 files, one cache entry was damaged
    assert len(b["matches"]) == 2 and len(a["matches"]) == 1  # the renamed copy matches too


def test_rooms_are_linked_across_exports_with_evidence(rempart_env: Path) -> None:
    from tests.sources.telegram_factory import message, write_photo

    found = rempart_env / "exports"
    chat_export(found / "2024-03-room-a", name="Room A", chat_id=555, photo_seeds=(1, 2))
    chat_export(found / "2024-06-room-a", name="Room A", chat_id=555, photo_seeds=(1, 5))
    chat_export(found / "2024-09-backup", name="Room A backup", chat_id=777, photo_seeds=(2, 6))
    other = found / "2024-09-other"
    other.mkdir()
    msgs = [
        message(
            1,
            photo=write_photo(other, "photos/x.jpg", 40),
            from_id="user9",
            forwarded_from="Room A",
            **{"from": "Stranger"},
        ),
        message(2, photo=write_photo(other, "photos/y.jpg", 41), from_id="user9"),
    ]
    (other / "result.json").write_text(
        json.dumps({"name": "Elsewhere", "type": "public_channel", "id": 999, "messages": msgs})
    )
    lone = found / "2024-09-lone"
    lone.mkdir()
    (lone / "result.json").write_text(
        json.dumps(
            {
                "name": "Unrelated",
                "type": "private_group",
                "id": 1234,
                "messages": [message(1, photo=write_photo(lone, "p/z.jpg", 50), from_id="user77")],
            }
        )
    )
    rempart("scan", str(found), "--report", str(rempart_env / "r.json"), code=3)
    data = json.loads(rempart("rooms", "--format", "json"))
    rooms = {r["room"]: r for r in data["rooms"]}
    assert len(rooms) == 5

    def key(folder: str) -> str:
        return next(k for k in rooms if f"/{folder}|" in k)

    links = {frozenset((link["a"], link["b"])): link["evidence"] for link in data["links"]}
    same = links[frozenset((key("2024-03-room-a"), key("2024-06-room-a")))]
    assert same["same_chat_id"] == "555" and len(same["identical_media"]) >= 2
    backup = links[frozenset((key("2024-03-room-a"), key("2024-09-backup")))]
    assert "same_chat_id" not in backup and backup["identical_media"]
    assert backup["shared_bots"] == ["@uploaderbot"] and len(backup["shared_members"]) == 2
    forwards = links[frozenset((key("2024-03-room-a"), key("2024-09-other")))]
    assert any("forwards from 'Room A'" in f for f in forwards["forwards"])
    assert not any(key("2024-09-lone") in pair for pair in links)
    table = rempart("rooms")
    assert "same chat id 555" in table and "identical media" in table
