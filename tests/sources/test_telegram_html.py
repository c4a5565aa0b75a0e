"""Telegram Desktop HTML exports (issue 16 item 1): single chat over several pages, whole
account, joined messages, forwards, via bot, replies, media not exported, service messages,
both formats in one folder; a CLI scan records the same provenance as the JSON export of the
same chat; a big page read in bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like, scene_frames, write_video
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder
from rempart.sources.telegram import iter_export
from rempart.sources.telegram_html import (
    iter_html_chat,
    iter_html_export,
    looks_like_html_export,
)
from tests.sources.telegram_html_writer import (
    NOT_INCLUDED,
    TOO_BIG,
    Chat,
    Msg,
    write_account,
    write_html_chat,
    write_json_chat,
)

runner = CliRunner()
T0 = 1709294400  # 2024-03-01 12:00 UTC


def split(items: list[Any]) -> tuple[list[MediaRef], list[SourceProblem]]:
    return (
        [i for i in items if isinstance(i, MediaRef)],
        [i for i in items if isinstance(i, SourceProblem)],
    )


def photo(root: Path, rel: str, seed: int) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    photo_like(seed, (320, 240)).save(path, quality=90)
    return rel


def room(root: Path, name: str = "Room A", seeds: tuple[int, int] = (1, 2)) -> Chat:
    """A chat with every kind of message the reader must understand; its media on disk."""
    video = root / "video_files" / "clip.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    write_video(video, scene_frames(3, 1, 8, (96, 64)))
    (root / "files").mkdir(exist_ok=True)
    (root / "files" / "notes.pdf").write_bytes(b"%PDF-1.4\n")
    p1 = photo(root, f"photos/photo_1_{seeds[0]}.jpg", seeds[0])
    p2 = photo(root, f"photos/photo_2_{seeds[1]}.jpg", seeds[1])
    msgs = [
        Msg(1, T0 - 7200, sender="Admin", sender_id=1, service=f"Admin created group «{name}»"),
        Msg(2, T0, text=["look ", ("bold", "here")], photo=p1),
        Msg(3, T0 + 60, text="same sender, joined", photo=p2),  # joined: no from_name
        Msg(
            4,
            T0 + 120,
            sender="Sender Two",
            sender_id=1002,
            file="video_files/clip.mp4",
            media_type="video_file",
            mime_type="video/mp4",
            thumbnail="video_files/clip.mp4_thumb.jpg",
            forwarded_from="Channel X",
            via_bot="@uploaderbot",
        ),
        Msg(5, T0 + 180, photo=NOT_INCLUDED),
        Msg(6, T0 + 240, file=TOO_BIG, media_type="video_file", mime_type="video/mp4"),
        # page 2 starts here (3 messages a page in the tests)
        Msg(7, T0 + 300, photo="photos/missing.jpg"),
        Msg(8, T0 + 310, file="files/notes.pdf", mime_type="application/pdf", file_name="n.pdf"),
        Msg(9, T0 + 320, text="line one\nline <two> & 'three'", photo=p1, reply_to=2),
        Msg(10, T0 + 86400, sender="Sender Two", sender_id=1002, text="next day, text only"),
        Msg(11, T0 + 86410, sender="Sender Two", sender_id=1002, photo=p2, via_bot="@b2"),
    ]
    return Chat(name, msgs)


def test_single_chat_over_pages_with_its_provenance(tmp_path: Path) -> None:
    root = tmp_path / "exp"
    pages = write_html_chat(root, room(root), per_page=3)
    assert [p.name for p in pages] == [f"messages{n}.html" for n in ("", 2, 3, 4)]
    assert looks_like_html_export(root)
    refs, problems = split(list(iter_html_export(root)))
    by_msg = {r.provenance["message_id"]: r.provenance for r in refs}
    assert sorted(by_msg, key=int) == ["2", "3", "4", "9", "11"]
    first = by_msg["2"]
    assert first["chat"] == "Room A" and first["caption"] == "look here"
    assert first["from"] == "Sender One" and first["from_id"] is None
    assert first["format"] == "telegram-html" and first["source"] == "telegram"
    assert first["date"] == "2024-03-01T13:00:00" and first["timezone"] == "UTC+01:00"
    assert first["date_unixtime"] == str(T0)
    assert first["media_field"] == "photo" and first["original_path"] == "photos/photo_1_1.jpg"
    assert "chat_id" not in first  # HTML has no chat id: absent, never made up
    assert by_msg["3"]["from"] == "Sender One"  # a joined message keeps its sender
    video = by_msg["4"]
    assert video["forwarded_from"] == "Channel X" and video["via_bot"] == "@uploaderbot"
    assert video["from"] == "Sender Two" and video["media_type"] == "video_file"
    assert by_msg["9"]["reply_to_message_id"] == "2"  # a link to messages.html#go_to_message2
    assert by_msg["9"]["caption"] == "line one\nline <two> & 'three'"  # unescaped, plain
    assert by_msg["9"]["page"] == "messages3.html"
    assert by_msg["11"]["via_bot"] == "@b2" and by_msg["11"]["from"] == "Sender Two"
    reasons = {(p.provenance.get("message_id"), p.reason) for p in problems}
    assert reasons == {("5", "not-exported"), ("6", "not-exported"), ("7", "not-exported")}
    assert all(".html" in p.detail and "message" in p.detail for p in problems)
    six = next(p for p in problems if p.provenance.get("message_id") == "6")
    assert "Exceeds maximum size" in six.detail and six.provenance["media_type"] == "video_file"


def test_every_item_has_the_json_readers_provenance(tmp_path: Path) -> None:
    """The same chat exported both ways: the same media items, with the same values in every
    field both formats have (the forwarded video via a bot, replies, captions, dates)."""
    html_root, json_root = tmp_path / "html", tmp_path / "json"
    write_html_chat(html_root, room(html_root), per_page=3)
    write_json_chat(json_root, room(json_root))
    html_refs, _ = split(list(iter_html_export(html_root)))
    json_refs, _ = split(list(iter_export(json_root / "result.json")))
    html_by = {(r.provenance["message_id"], r.path.name): r.provenance for r in html_refs}
    json_by = {(r.provenance["message_id"], r.path.name): r.provenance for r in json_refs}
    assert set(html_by) == set(json_by) and len(html_by) == 5
    for key, js in json_by.items():
        html = html_by[key]
        for field in set(js) - {"export", "chat_id", "chat_type", "from_id", "mime_type"}:
            assert html.get(field) == js[field], (key, field)


def test_whole_account_export(tmp_path: Path) -> None:
    root = tmp_path / "acc"
    chats = []
    for k, (name, kind) in enumerate((("Room B", "group"), ("News", "channel"))):
        rel = photo(root, f"chats/chat_{k + 1}/photos/p.jpg", 21 + k)
        chats.append(Chat(name, [Msg(1, T0, sender=f"Member {k}", photo=rel)], html_type=kind))
    write_account(root, chats)
    assert (root / "chats" / "chat_1" / "messages.html").is_file()
    refs, problems = split(list(iter_html_export(root)))
    assert not problems
    got = {(r.provenance["chat"], r.provenance["chat_type"], r.provenance["from"]) for r in refs}
    assert got == {("Room B", "group", "Member 0"), ("News", "channel", "Member 1")}
    assert {r.provenance["original_path"] for r in refs} == {
        "chats/chat_1/photos/p.jpg",
        "chats/chat_2/photos/p.jpg",
    }  # the pages' links (../../chats/...) as paths from the export folder, as in JSON
    # One chat's folder scanned alone still resolves its links from the export folder.
    alone, _ = split(list(iter_folder([root / "chats" / "chat_2"])))
    assert [r.provenance["chat"] for r in alone] == ["News"]
    page, _ = split(list(iter_folder([root / "chats" / "chat_1" / "messages.html"])))
    assert [(r.provenance["chat"], r.path.name) for r in page] == [("Room B", "p.jpg")]


def test_both_formats_in_one_folder_are_read_once(tmp_path: Path) -> None:
    root = tmp_path / "both"
    chat = room(root)
    write_html_chat(root, chat, per_page=3)
    write_json_chat(root, chat)
    refs, _ = split(list(iter_folder([tmp_path])))
    json_refs, _ = split(list(iter_export(root / "result.json")))
    assert [r.locator for r in refs] == [r.locator for r in json_refs]  # each message once
    assert all("format" not in r.provenance for r in refs)  # through the JSON: it has ids
    acc = tmp_path / "acc-both"
    rel = photo(acc, "chats/chat_1/photos/p.jpg", 5)
    write_account(acc, [Chat("R", [Msg(1, T0, photo=rel)])], json_too=True)
    refs, _ = split(list(iter_folder([acc])))
    assert len(refs) == 1 and refs[0].provenance["chat_id"] == "555"


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.output


def test_cli_scan_records_the_same_provenance_as_the_json_export(
    rempart_env: Path, consent_file: Path
) -> None:
    hers = rempart_env / "hers"
    hers.mkdir()
    photo_like(1, (320, 240)).save(hers / "1.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(rempart_env / "sub.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank", "import", "b", str(rempart_env / "sub.json"), "--case", "C-1",
        "--consent", str(consent_file),
    )  # fmt: skip
    found = rempart_env / "found"
    for fmt in ("html", "json"):
        root = found / fmt
        chat = room(root)
        if fmt == "html":
            write_html_chat(root, chat, per_page=3)
        else:
            write_json_chat(root, chat)
    report = rempart_env / "r.json"
    rempart("scan", str(found), "--bank", "b", "--report", str(report))
    data = json.loads(report.read_text())
    matches: dict[tuple[str, str], dict[str, Any]] = {}
    for m in data["matches"]:
        prov = m["provenance"]
        matches[(prov.get("format", "telegram-json"), prov["message_id"])] = prov
    assert {k[1] for k in matches} == {"2", "9"}  # her photo 1, posted twice
    for mid in ("2", "9"):
        html, js = matches[("telegram-html", mid)], matches[("telegram-json", mid)]
        html_only = {"format", "page", "timezone", "from_id"}
        json_only = {"chat_id", "chat_type", "from_id", "mime_type"}  # not in one-chat HTML
        assert set(html) - html_only - {"export"} == set(js) - json_only - {"export"}
        for key in set(js) - json_only - {"export"}:
            assert html[key] == js[key], key
        assert html["from_id"] is None and js["from_id"] == "user1001"
    assert not data["skipped"]
    missing = sorted(
        (s["provenance"].get("format", "json"), s["provenance"]["message_id"])
        for s in data["not_exported"]
    )
    assert missing == [(f, m) for f in ("json", "telegram-html") for m in ("5", "6", "7")]


def test_missing_page_is_reported_and_the_others_read(tmp_path: Path) -> None:
    root = tmp_path / "exp"
    pages = write_html_chat(root, room(root), per_page=3)
    pages[1].unlink()  # messages2.html
    pages[3].unlink()  # messages4.html: the last page, named by messages3.html's "Next" link
    refs, problems = split(list(iter_html_chat(root, root)))
    assert {r.provenance["message_id"] for r in refs} == {"2", "3", "9"}
    missing = [p for p in problems if p.reason == "missing-page"]
    assert [Path(p.locator).name for p in missing] == ["messages2.html", "messages4.html"]
    assert "Room A" in missing[0].detail and "of 4 pages" in missing[0].detail


def test_a_big_page_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A 1.3 MB page (long captions) is read 32 KB at a time: the peak of memory allocated
    while reading it is a fraction of its size (no DOM, no page held whole)."""
    msgs = [
        Msg(
            i,
            T0 + i,
            sender=f"M{i // 4}",
            sender_id=i // 4,
            text="word " * 1600,
            photo=f"p/{i}.jpg",
        )
        for i in range(1, 151)
    ]
    page = write_html_chat(tmp_path / "big", Chat("Big", msgs), per_page=150)[0]
    size = page.stat().st_size
    assert size > 1_200_000
    tracemalloc.start()
    try:
        items = iter_html_chat(page.parent, page.parent)
        count = sum(1 for i in items if i.provenance.get("caption", "").startswith("word"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 150  # every photo reported missing, one by one, with its caption
    assert peak < size / 5, (peak, size)


def test_rooms_bench_parse_section_runs(tmp_path: Path) -> None:
    """bench/rooms_bench.py's parse section at a tiny size, so that it cannot rot."""
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[2] / "bench" / "rooms_bench.py"
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, str(bench), "--messages", "1500", "--section", "parse", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "messages/s" in proc.stdout and "HTML" in proc.stdout
    parse = json.loads(out.read_text())["parse"]
    assert parse["json"]["items"] == parse["html"]["items"] == 300  # a photo every 5th message
    assert parse["html"]["files"] == 2


def test_some_other_messages_html_is_not_taken_for_an_export(tmp_path: Path) -> None:
    folder = tmp_path / "saved-site"
    folder.mkdir()
    (folder / "messages.html").write_text("<html><title>Inbox</title><div>hi</div></html>")
    photo_like(4, (96, 96)).save(folder / "p.jpg")
    refs, problems = split(list(iter_folder([folder])))
    assert [(r.path.name, r.provenance["source"]) for r in refs] == [("p.jpg", "folder")]
    assert not problems and not looks_like_html_export(folder)
