"""Telegram Desktop HTML exports: every photo, video and file a room's messages carry, with
where it came from, read from the pages Telegram Desktop writes by default.

"Export chat history" with the default format writes HTML, not JSON (its exporter:
Telegram/SourceFiles/export/output/export_output_html.cpp): messages.html, messages2.html, ...
(1,000 messages a page) with photos/, video_files/, files/, voice_messages/,
round_video_messages/ and stickers/ beside them; "Export Telegram data" writes
export_results.html, lists/chats.html and chats/chat_NNN/messages*.html. A volunteer who
exports with the defaults gets these files, so they must be read as well as result.json.

This module holds what other code calls: the readers (iter_html_export, iter_html_chat,
iter_html_page), the checks that a folder or a file is such an export (looks_like_html_*),
and what a whole-account export adds (lists/chats.html, chats/chat_NNN/, the numbered series
of a chat's pages: a page missing from it is reported, the others read). The work is done
beside it: telegram_html_parse.py reads a page's markup as a stream (hostile input: capped,
bounded, never run) and telegram_html_reader.py turns its messages into media items with
their provenance (`"format": "telegram-html"`) and problems, naming the page.
"""

from __future__ import annotations

import codecs
import os
import posixpath
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.telegram_html_parse import (
    ATTR_LIMIT,
    CHUNK,
    MAX_PENDING,
    NAME_LIMIT,
    _Chat,
    _classes,
)
from rempart.sources.telegram_html_reader import _ChatReader, _root_relative

ACCOUNT_FILE = "export_results.html"
CHATS_LIST = "lists/chats.html"
MAX_CHATS = 100_000  # chats taken from lists/chats.html (the chats/ folder is read anyway)
_PAGE = re.compile(r"^messages([1-9][0-9]{0,5})?\.html$")


def looks_like_html_page(path: Path) -> bool:
    """An HTML file whose start looks like a page Telegram Desktop's exporter wrote."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError:
        return False
    # Its <title> and first div, as export_output_html.cpp writes every page: a folder that
    # only holds some other messages.html is walked as an ordinary folder.
    return b"<title>Exported Data</title>" in head and b'class="page_wrap"' in head


def _pages(folder: Path) -> dict[int, Path]:
    out: dict[int, Path] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return out
    for name in names:
        m = _PAGE.match(name)
        if m:
            out[int(m.group(1) or 1)] = folder / name
    return out


def looks_like_html_export(folder: Path) -> bool:
    """A folder holding a Telegram Desktop HTML export: export_results.html (whole account)
    or a numbered series of messages*.html pages (one chat)."""
    account = folder / ACCOUNT_FILE
    if account.is_file() and looks_like_html_page(account):
        return True
    pages = _pages(folder)
    return any(looks_like_html_page(p) for _, p in sorted(pages.items())[:3])


def _next_link(page: Path) -> str | None:
    """The "Next messages" link at the end of a page (its last 4 KB), if any."""
    try:
        with page.open("rb") as fh:
            fh.seek(max(0, page.stat().st_size - 4096))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    found = re.findall(r'class="pagination block_link"[^>]*href="(messages[0-9]*\.html)"', tail)
    return found[-1] if found else None


def _export_root(folder: Path) -> Path:
    """The export folder a chat's folder belongs to: itself, or for chats/chat_NNN of a
    whole-account export, the folder two levels up (media links start from there)."""
    up = folder.parent.parent
    if folder.parent.name == "chats" and (up / ACCOUNT_FILE).is_file():
        return up
    return folder


def iter_html_page(page: Path) -> Iterator[MediaRef | SourceProblem]:
    """One page named alone (not the rest of its series)."""
    folder = page.parent
    reader = _ChatReader(_export_root(folder), folder, _Chat())
    yield from reader.page(page)


def iter_html_chat(
    root: Path, folder: Path, chat_name: str = "", chat_type: str = ""
) -> Iterator[MediaRef | SourceProblem]:
    """The pages of one chat (folder/messages.html, messages2.html, ...) in order; a page
    missing from the series is reported, the others read."""
    pages = _pages(folder)
    chat = _Chat(name=chat_name, chat_type=chat_type)
    reader = _ChatReader(root, folder, chat)
    last = max(pages, default=0)
    if last:
        follow = _next_link(pages[last])
        m = _PAGE.match(follow or "")
        if m and int(m.group(1) or 1) > last:
            last = int(m.group(1) or 1)
    for n in range(1, last + 1):
        page = pages.get(n)
        if page is None:
            name = "messages.html" if n == 1 else f"messages{n}.html"
            yield SourceProblem(
                str(folder / name),
                "missing-page",
                f"{folder / name}: page {n} of the chat"
                + (f" {chat.name!r}" if chat.name else "")
                + f" is missing from the export ({len(pages)} of {last} pages there); "
                "the other pages are read",
            )
            chat.sender = chat.via = chat.forwarded_from = ""
            continue
        yield from reader.page(page)


class _ListParser(HTMLParser):
    """lists/chats.html: each chat's folder, name and kind (group, channel, private, bot)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[dict[str, str]] = []
        self.sink: str | None = None
        self.depth = 0

    def set_cdata_mode(self, *args: Any, **kwargs: Any) -> None:
        return None

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: (v or "")[:ATTR_LIMIT] for k, v in attr_list[:32]}
        cls = _classes(attrs)
        if tag == "a" and "entry" in cls:
            self.entries.append({"href": attrs.get("href", ""), "name": "", "type": ""})
        elif self.entries and tag == "div" and "name" in cls:
            self.sink = "name"
        elif self.entries and tag == "div" and "info" in cls:
            self.sink = "type"

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self.sink = None

    def handle_data(self, data: str) -> None:
        if self.sink and self.entries and len(self.entries) < 1_000_000:
            entry = self.entries[-1]
            entry[self.sink] = (entry[self.sink] + data)[:NAME_LIMIT]


def _chat_list(root: Path) -> dict[str, tuple[str, str]]:
    """chats/chat_NNN -> (name, kind) from lists/chats.html."""
    parser = _ListParser()
    out: dict[str, tuple[str, str]] = {}
    try:
        with (root / CHATS_LIST).open("rb") as fh:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            while raw := fh.read(CHUNK):
                try:
                    parser.feed(decoder.decode(raw))
                except (AssertionError, ValueError, IndexError):
                    parser.rawdata = ""
                if len(parser.rawdata) > MAX_PENDING:
                    parser.rawdata = ""
                for e in parser.entries[:-1]:
                    _add_entry(out, e)
                del parser.entries[:-1]
    except OSError:
        return out
    for e in parser.entries:
        _add_entry(out, e)
    return out


def _add_entry(out: dict[str, tuple[str, str]], entry: dict[str, str]) -> None:
    href = entry["href"].split("#")[0]
    rel = _root_relative("lists", href)
    if len(out) >= MAX_CHATS:
        return
    if rel and rel.startswith("chats/") and _PAGE.match(posixpath.basename(rel)):
        name = " ".join(entry["name"].split())
        out[posixpath.dirname(rel)] = (name, " ".join(entry["type"].split()).lower())


def iter_html_export(folder: Path) -> Iterator[MediaRef | SourceProblem]:
    """Every media item of a Telegram Desktop HTML export folder (one chat, or a whole
    account: export_results.html, lists/chats.html, chats/chat_NNN/), in page order."""
    if not (folder / ACCOUNT_FILE).is_file():
        yield from iter_html_chat(_export_root(folder), folder)
        return
    listed = _chat_list(folder)
    chats_dir = folder / "chats"
    try:
        present = sorted(
            f"chats/{name}" for name in os.listdir(chats_dir) if (chats_dir / name).is_dir()
        )
    except OSError:
        present = []
    for rel in list(listed) + [p for p in present if p not in listed]:
        name, kind = listed.get(rel, ("", ""))
        chat_folder = folder / rel
        if not chat_folder.is_dir():
            yield SourceProblem(
                str(chat_folder),
                "missing-page",
                f"{chat_folder}: the chat {name!r} listed in {CHATS_LIST} is missing from the "
                "export; the other chats are read",
            )
            continue
        yield from iter_html_chat(folder, chat_folder, name, kind)
