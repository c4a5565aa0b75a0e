"""Telegram Desktop JSON exports made in code, shaped like the real exporter's output, with
ordinary generated pictures and videos as their media."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rempart.samples import photo_like, scene_frames, write_video

NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
TOO_BIG = "(File exceeds maximum size. Change data exporting settings to download.)"


def message(mid: int, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": mid,
        "type": "message",
        "date": f"2024-03-0{1 + mid % 9}T12:00:{mid % 60:02d}",
        "date_unixtime": str(1709294400 + mid),
        "from": "Sender One",
        "from_id": "user1001",
        "text": "",
        "text_entities": [],
    }
    out.update(fields)
    return out


def write_photo(root: Path, rel: str, seed: int) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    photo_like(seed, (320, 240)).save(path, quality=90)
    return rel


def chat_export(
    root: Path, *, name: str = "Room A", chat_id: int = 555, photo_seeds: tuple[int, ...] = (1, 2)
) -> Path:
    """A single-chat export ("Export chat history") with every kind of media entry."""
    root.mkdir(parents=True, exist_ok=True)
    video = root / "video_files" / "clip.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    write_video(video, scene_frames(3, 3, 10, (160, 120)))
    messages = [
        {
            "id": 1,
            "type": "service",
            "date": "2024-03-01T10:00:00",
            "date_unixtime": "1709287200",
            "actor": "Admin",
            "actor_id": "user1",
            "action": "create_group",
            "title": name,
            "members": ["Admin"],
            "text": "",
            "text_entities": [],
        },
        message(
            2,
            photo=write_photo(root, f"photos/photo_1_{photo_seeds[0]}.jpg", photo_seeds[0]),
            width=320,
            height=240,
            text=["look ", {"type": "bold", "text": "here"}],
        ),
        message(
            3,
            file="video_files/clip.mp4",
            thumbnail="video_files/clip.mp4_thumb.jpg",
            media_type="video_file",
            mime_type="video/mp4",
            duration_seconds=3,
            forwarded_from="Channel X",
            via_bot="@uploaderbot",
            from_id="user1002",
            **{"from": "Sender Two"},
        ),
        message(4, photo=NOT_INCLUDED, width=800, height=600),
        message(
            5,
            file=TOO_BIG,
            thumbnail=write_photo(root, "files/big_thumb.jpg", 9),
            media_type="video_file",
            mime_type="video/mp4",
        ),
        message(6, photo="photos/missing.jpg"),
        message(7, photo="../../etc/passwd"),
        message(8, photo="/etc/passwd"),
        message(9, file="files/notes.pdf", mime_type="application/pdf"),
        message(
            10,
            photo=write_photo(root, f"photos/photo_2_{photo_seeds[1]}.jpg", photo_seeds[1]),
            reply_to_message_id=2,
        ),
        message(11, text="just text"),
    ]
    (root / "files").mkdir(exist_ok=True)
    (root / "files" / "notes.pdf").write_bytes(b"%PDF-1.4\n")
    doc = {"name": name, "type": "private_supergroup", "id": chat_id, "messages": messages}
    path = root / "result.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def account_export(root: Path) -> Path:
    """A whole-account export ("Export Telegram data") with two chats and a left chat."""
    root.mkdir(parents=True, exist_ok=True)
    chats = []
    for k, (name, seed) in enumerate((("Room B", 21), ("Room C", 22), ("Old room", 23))):
        rel = write_photo(root, f"chats/chat_{k:03d}/photos/p.jpg", seed)
        chats.append(
            {
                "name": name,
                "type": "private_group",
                "id": 900 + k,
                "messages": [message(1, photo=rel, **{"from": f"Member {k}"})],
            }
        )
    doc = {
        "about": "Here is the data you requested.",
        "personal_information": {
            "user_id": 1,
            "first_name": "A",
            "last_name": "",
            "phone_number": "+0",
            "bio": "",
        },
        "chats": {"about": "This page lists all chats.", "list": chats[:2]},
        "left_chats": {"about": "Chats you left.", "list": chats[2:]},
    }
    path = root / "result.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path
