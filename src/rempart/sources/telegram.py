"""Telegram Desktop JSON exports: every photo, video and file a room's messages carry, with
where it came from.

Reads both forms Telegram Desktop writes (its exporter: Telegram/SourceFiles/export/output/
export_output_json.cpp): "Export chat history" (result.json = one chat: `name`, `type`, `id`,
`messages[]`) and "Export Telegram data" (result.json with `chats.list[]` and
`left_chats.list[]`, each a chat as above). The file is parsed as a stream (ijson), one
message at a time, so a 1 GB export takes no more memory than a small one, and the media of
the messages before a syntax error are still scanned.

Per message: `photo`, or `file` (+ `media_type`, `mime_type`), and its `thumbnail` when the
file itself was not exported. A media path that Telegram did not export ("(File not included.
...)", "(File exceeds maximum size. ...)", "(File unavailable, ...)") or that is missing on
disk is reported as "not-exported", not as an error. A path that leaves the export folder
(absolute, `..`, or a link pointing outside) is refused as "path-outside-export".
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import ijson

from rempart.media.kinds import media_kind
from rempart.sources.base import MediaRef, SourceProblem

EXPORT_FILE = "result.json"
CAPTION_LIMIT = 2000
_NOT_EXPORTED_MARKERS = ("Change data exporting settings", "unavailable, please try again")


def looks_like_export(path: Path) -> bool:
    """A JSON object whose start looks like a Telegram Desktop export: a chat (`messages`)
    or, for a file named result.json, a whole-account export (`about`,
    `personal_information`, `chats`)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(65536).lstrip()
    except OSError:
        return False
    if not head.startswith(b"{"):
        return False
    if b'"messages"' in head and b'"name"' in head:
        return True
    keys = (b'"chats"', b'"personal_information"', b'"about"')
    return path.name == EXPORT_FILE and any(k in head for k in keys)


def caption(text: Any) -> str:
    """A message's text: a string, or a list of strings and {type, text} parts."""
    if isinstance(text, str):
        out = text
    elif isinstance(text, list):
        out = "".join(
            p if isinstance(p, str) else str(p.get("text", ""))
            for p in text
            if isinstance(p, str | dict)
        )
    else:
        out = ""
    return out[:CAPTION_LIMIT]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)[:500]


def _provenance(root: Path, chat: dict[str, Any], msg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": "telegram",
        "export": str(root),
        "chat": _text(chat.get("name")),
        "chat_type": _text(chat.get("type")),
        "chat_id": _text(chat.get("id")),
        "message_id": _text(msg.get("id")),
        "date": _text(msg.get("date")),
        "date_unixtime": _text(msg.get("date_unixtime")),
        "from": _text(msg.get("from") or msg.get("actor")),
        "from_id": _text(msg.get("from_id") or msg.get("actor_id")),
        "forwarded_from": _text(msg.get("forwarded_from")),
        "saved_from": _text(msg.get("saved_from")),
        "via_bot": _text(msg.get("via_bot")),
        "reply_to_message_id": _text(msg.get("reply_to_message_id")),
        "caption": caption(msg.get("text")),
        "media_type": _text(msg.get("media_type")),
        "mime_type": _text(msg.get("mime_type")),
    }
    return {k: v for k, v in out.items() if v not in (None, "")}


def _not_exported(value: str) -> bool:
    return value.startswith("(") and any(m in value for m in _NOT_EXPORTED_MARKERS)


def _resolve(root: Path, value: str) -> Path | None:
    """The file a relative media path names, or None when it leaves the export folder."""
    rel = Path(value)
    if rel.is_absolute() or ".." in rel.parts or "\x00" in value:
        return None
    target = root / rel
    try:
        real = os.path.realpath(target)
    except (OSError, ValueError):
        return None
    base = _real_root(root)
    if real != base and not real.startswith(base + os.sep):
        return None
    return target


@lru_cache(maxsize=64)
def _real_root(root: Path) -> str:
    return os.path.realpath(root)


def _media(
    root: Path, json_path: Path, chat: dict[str, Any], msg: dict[str, Any]
) -> Iterator[MediaRef | SourceProblem]:
    prov = _provenance(root, chat, msg)
    where = f"{json_path}: chat {prov.get('chat', '?')!r}, message {prov.get('message_id', '?')}"
    fields = [("photo", msg.get("photo")), ("file", msg.get("file"))]
    main_missing = False
    for kind, value in fields:
        if not isinstance(value, str) or not value:
            continue
        found = yield from _one(root, where, prov, kind, value)
        main_missing = main_missing or not found
    thumb = msg.get("thumbnail")
    if main_missing and isinstance(thumb, str) and thumb:
        yield from _one(root, where, prov, "thumbnail", thumb)


def _one(
    root: Path, where: str, prov: dict[str, Any], kind: str, value: str
) -> Generator[MediaRef | SourceProblem, None, bool]:
    """Yield the item for one media field; returns whether its file is there."""
    locator = f"{root / value}#message={prov.get('message_id', '?')}"
    item_prov = {**prov, "media_field": kind, "original_path": value[:500]}
    if _not_exported(value):
        yield SourceProblem(
            locator,
            "not-exported",
            f"{where}: {kind} not in the export ({value.strip('()')[:120]})",
            item_prov,
        )
        return False
    path = _resolve(root, value)
    if path is None:
        yield SourceProblem(
            f"{where}: {value[:200]}",
            "path-outside-export",
            f"{where}: {kind} path {value[:200]!r} leaves the export folder; refused",
            item_prov,
        )
        return False
    if not path.is_file():
        yield SourceProblem(
            locator,
            "not-exported",
            f"{where}: {kind} {value!r} is missing from the export folder",
            item_prov,
        )
        return False
    if media_kind(path) is not None:
        yield MediaRef(locator, path, item_prov)
    return True


def _chat_prefix(prefix: str) -> str | None:
    """The chat a `...messages.item` prefix belongs to ('' for a single-chat export)."""
    if prefix == "messages.item":
        return ""
    if prefix.endswith(".messages.item"):
        return prefix[: -len(".messages.item")]
    return None


def iter_export(json_path: Path) -> Iterator[MediaRef | SourceProblem]:
    """Every media item of a Telegram Desktop JSON export, in file order."""
    root = json_path.parent
    chats: dict[str, dict[str, Any]] = {}
    builder: ijson.ObjectBuilder | None = None
    msg_prefix = ""
    messages = 0
    try:
        with json_path.open("rb") as fh:
            for prefix, event, value in ijson.parse(fh, use_float=True):
                if builder is not None:
                    builder.event(event, value)
                    if event == "end_map" and prefix == msg_prefix:
                        chat = chats.get(_chat_prefix(msg_prefix) or "", {})
                        if isinstance(builder.value, dict):
                            messages += 1
                            yield from _media(root, json_path, chat, builder.value)
                        builder = None
                    continue
                if event == "start_map" and _chat_prefix(prefix) is not None:
                    builder = ijson.ObjectBuilder()
                    builder.event(event, value)
                    msg_prefix = prefix
                    continue
                if event == "start_map" and prefix.endswith("list.item"):
                    chats[prefix] = {}
                    continue
                parent, _, key = prefix.rpartition(".")
                if key in ("name", "type", "id") and event in ("string", "number", "null"):
                    if parent == "" or parent.endswith("list.item"):
                        chats.setdefault(parent, {})[key] = value
    except OSError as exc:
        yield SourceProblem(
            str(json_path), "unreadable", f"{json_path}: cannot read ({exc.strerror or exc})"
        )
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError) as exc:
        yield SourceProblem(
            str(json_path),
            "malformed-export",
            f"{json_path}: malformed JSON after {messages} message(s) ({str(exc)[:200]}); "
            "the media of those messages are scanned",
        )
