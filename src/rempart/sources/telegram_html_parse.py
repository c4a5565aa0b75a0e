"""The page parser of Telegram Desktop HTML exports (rempart.sources.telegram_html): one
page of messages*.html read as a stream into plain message records, nothing more.

It exists apart from the readers so that the part that touches hostile markup is in one
place, small enough to review on its own: html.parser fed 32 KB at a time (CHUNK), a small
state machine over the classes the exporter writes (export_output_html.cpp), finished
messages queued one at a time, so a page of any size takes the same memory; no DOM of a page
is ever built. Everything in a page is data: text is unescaped to plain strings (never kept
as markup), scripts and styles are never run nor read as raw text, attributes and texts are
capped, nesting is bounded (MAX_DEPTH), and media links are kept as written (at most
MAX_MEDIA a message): judging them, and turning messages into media items and problems, is
telegram_html_reader.py's job.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from rempart.sources.telegram import CAPTION_LIMIT

CHUNK = 32 * 1024  # bytes read and fed to the parser at a time
MAX_PENDING = 1 << 16  # markup held unparsed (one tag or attribute) before it is dropped
ATTR_LIMIT = 4096  # characters kept of an attribute
NAME_LIMIT = 500  # characters kept of a name, a title, a date
MAX_DEPTH = 256  # open elements tracked; deeper ones are counted, not kept
MAX_MEDIA = 16  # media links kept per message
_GO_TO = re.compile(r"go_to_message(-?[0-9]{1,12})$")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_NOT_EXPORTED = ("not included", "exceeds maximum size", "unavailable")
# The wrappers the exporter writes around media with a thumbnail: (media field, media type).
_WRAPS = {
    "photo_wrap": ("photo", None),
    "video_file_wrap": ("file", "video_file"),
    "animated_wrap": ("file", "animation"),
    "sticker_wrap": ("file", "sticker"),
}
# Media without a thumbnail ("generic"): its class and title say what it is.
_GENERIC = {
    ("media_photo", "photo"): ("photo", None),
    ("media_photo", "sticker"): ("file", "sticker"),
    ("media_video", "video message"): ("file", "video_message"),
    ("media_video", "video file"): ("file", "video_file"),
    ("media_video", "animation"): ("file", "animation"),
    ("media_voice_message", ""): ("file", "voice_message"),
    ("media_audio_file", ""): ("file", "audio_file"),
    ("media_file", ""): ("file", None),
}


def _classes(attrs: dict[str, str]) -> set[str]:
    return set(attrs.get("class", "").split())


class _Text:
    """Text collected from a page, capped: the exporter's layout (newlines and indentation
    around block tags) dropped, <br> kept as a newline."""

    __slots__ = ("parts", "size", "limit")

    def __init__(self, limit: int = NAME_LIMIT) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit

    def add(self, data: str) -> None:
        if self.size < self.limit + 64:
            piece = data[: self.limit + 64 - self.size]
            self.parts.append(piece)
            self.size += len(piece)

    def __bool__(self) -> bool:
        return self.size > 0

    def plain(self, extra: int = 0) -> str:
        text = re.sub(r"\n[ \t]*", "", "".join(self.parts)).replace(_BR, "\n")
        return text.strip()[: self.limit + extra]


_BR = "\x00br\x00"


@dataclass
class _Generic:
    classes: set[str]
    href: str | None = None
    title: _Text = field(default_factory=_Text)
    description: _Text = field(default_factory=_Text)
    thumb: str | None = None


@dataclass
class _Message:
    id: str
    service: bool
    joined: bool
    date_title: str = ""
    sender: _Text = field(default_factory=_Text)
    has_sender: bool = False
    forwarded: bool = False
    fwd_name: _Text = field(default_factory=_Text)
    has_fwd_name: bool = False
    reply_to: str | None = None
    caption: _Text = field(default_factory=lambda: _Text(CAPTION_LIMIT))
    media: list[tuple[str, str, str | None]] = field(default_factory=list)  # field, href, type
    missing: list[tuple[str, str, str | None]] = field(default_factory=list)  # field, why, type


@dataclass
class _Chat:
    """What carries over from one message to the next in a chat (a "joined" message keeps
    the previous sender, bot and forward), and what the pages said of the chat."""

    name: str = ""
    chat_type: str = ""
    sender: str = ""
    via: str = ""
    forwarded_from: str = ""
    messages: int = 0


# The classes that give an element a role (see _role); an element with none of them has
# none, except inside media and the page header.
_KNOWN = frozenset(
    {"message", "date", "from_name", "forwarded", "reply_to", "media_wrap", "text", "page_header"}
)
# Roles of tracked elements; the text inside some of them is collected.
_CAPTURE = {"sender", "fwd_name", "caption", "header", "g_title", "g_desc"}


class _PageParser(HTMLParser):
    """One page: finished messages are queued in `done`; `ended`, `too_deep` say what the
    page itself looked like."""

    def __init__(self, chat: _Chat) -> None:
        super().__init__(convert_charrefs=True)
        self.chat = chat
        self.stack: list[tuple[str, str, str | None]] = []  # tag, role, text sink inside
        self.overflow = 0
        self.too_deep = False
        self.msg: _Message | None = None
        self.msg_depth = -1
        self.generic: _Generic | None = None
        self.in_media = False
        self.in_fwd = False
        self.in_reply = False
        self.in_header = False
        self.header = _Text()
        self.ended = False
        self.done: deque[_Message] = deque()

    # html.parser would read <script> and <style> as raw text up to their end tag, holding
    # everything after an unclosed one; here they are markup like any other (never run).
    def set_cdata_mode(self, *args: Any, **kwargs: Any) -> None:
        return None

    # "<![word[ ... ]]>" with a word html.parser does not know raises AssertionError: the
    # section is skipped as data instead (the rest of the page is read).
    def parse_marked_section(self, i: int, report: bool = True) -> int:
        try:
            return int(super().parse_marked_section(i, report))
        except AssertionError:
            end = self.rawdata.find(">", i + 3)
            return -1 if end < 0 else end + 1

    def _sink(self) -> str | None:
        return self.stack[-1][2] if self.stack else None

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: (v or "")[:ATTR_LIMIT] for k, v in attr_list[:32]}
        role = self._role(tag, attrs)
        if tag == "br" and self._sink() in ("caption", "g_desc"):
            self._text(_BR)
        if tag in _VOID:
            return
        if len(self.stack) >= MAX_DEPTH:
            self.overflow += 1
            self.too_deep = True
            return
        sink = self._sink()
        if role in _CAPTURE:
            sink = role
        elif role in ("date", "script"):
            sink = None
        self.stack.append((tag, role, sink))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "html":
            self.ended = True
        if self.overflow:
            self.overflow -= 1
            return
        if self.stack and self.stack[-1][0] == tag:  # well-formed: the usual case
            self._close(len(self.stack) - 1)
            return
        for k in range(len(self.stack) - 1, max(-1, len(self.stack) - 64), -1):
            if self.stack[k][0] == tag:
                while len(self.stack) > k:
                    self._close(len(self.stack) - 1)
                return

    def handle_data(self, data: str) -> None:
        if self._sink() is not None:
            self._text(data)

    def _text(self, data: str) -> None:
        sink = self._sink()
        target: _Text | None = None
        if sink == "header" and not self.chat.name:
            target = self.header
        elif self.msg is not None:
            if sink == "sender":
                target = self.msg.sender
            elif sink == "fwd_name":
                target = self.msg.fwd_name
            elif sink == "caption":
                target = self.msg.caption
            elif self.generic is not None and sink == "g_title":
                target = self.generic.title
            elif self.generic is not None and sink == "g_desc":
                target = self.generic.description
        if target is not None:
            target.add(data)

    def _role(self, tag: str, attrs: dict[str, str]) -> str:
        cls = _classes(attrs)
        if tag in ("script", "style"):
            return "script"
        if tag != "a" and cls.isdisjoint(_KNOWN) and not (self.in_media or self.in_header):
            return ""  # most of a page: avatars, layout (fast path)
        if tag == "div" and "message" in cls and attrs.get("id", "").startswith("message"):
            self._finish()
            self.msg = _Message(
                attrs["id"][len("message") :][:20],
                service="service" in cls,
                joined="joined" in cls,
            )
            self.msg_depth = len(self.stack)
            return "message"
        if self.msg is None:
            return self._outside(tag, cls, attrs)
        msg = self.msg
        if "date" in cls and "details" in cls:
            if not self.in_fwd and not msg.date_title:
                msg.date_title = attrs.get("title", "")[:NAME_LIMIT]
            return "date"
        if tag == "div" and "from_name" in cls:
            if self.in_fwd:
                msg.has_fwd_name = True
                return "fwd_name"
            msg.has_sender = True
            return "sender"
        if tag == "div" and "forwarded" in cls and "body" in cls:
            msg.forwarded = self.in_fwd = True
            return "fwd"
        if tag == "div" and "reply_to" in cls:
            self.in_reply = True
            return "reply"
        if tag == "a" and self.in_reply:
            found = _GO_TO.search(attrs.get("href", ""))
            if found and msg.reply_to is None:
                msg.reply_to = found.group(1)
            return ""
        if tag == "div" and "media_wrap" in cls:
            self.in_media = True
            return "media"
        if self.in_media:
            return self._media(tag, cls, attrs)
        if tag == "div" and "text" in cls:
            return "caption"
        if tag == "a" and "userpic_link" in cls and msg.service:
            self._add_media("photo", attrs.get("href", ""), None)
        return ""

    def _outside(self, tag: str, cls: set[str], attrs: dict[str, str]) -> str:
        if tag == "div" and "page_header" in cls:
            self.in_header = True
            return "page_header"
        if self.in_header and "text" in cls:
            return "header"
        return ""

    def _media(self, tag: str, cls: set[str], attrs: dict[str, str]) -> str:
        assert self.msg is not None
        if tag == "a":
            for wrap, (kind, mtype) in _WRAPS.items():
                if wrap in cls:
                    self._add_media(kind, attrs.get("href", ""), mtype)
                    return ""
        if tag in ("a", "div") and "media" in cls and self.generic is None:
            self.generic = _Generic(cls, attrs.get("href") if tag == "a" else None)
            return "generic"
        if self.generic is not None:
            if tag == "img" and "thumb" in cls:
                self.generic.thumb = attrs.get("src", "")
            elif tag == "div" and "title" in cls:
                return "g_title"
            elif tag == "div" and "description" in cls:
                return "g_desc"
        return ""

    def _add_media(self, kind: str, href: str, mtype: str | None) -> None:
        if self.msg is not None and len(self.msg.media) < MAX_MEDIA:
            self.msg.media.append((kind, href, mtype))

    def _close(self, index: int) -> None:
        _tag, role, _sink = self.stack.pop()
        if role == "message" and index == self.msg_depth:
            self._finish()
        elif role == "fwd":
            self.in_fwd = False
        elif role == "reply":
            self.in_reply = False
        elif role == "page_header":
            self.in_header = False
            if not self.chat.name:
                self.chat.name = self.header.plain()
        elif role == "media":
            self.in_media = False
            self._generic_done()
        elif role == "generic":
            self._generic_done()

    def _generic_done(self) -> None:
        g, self.generic = self.generic, None
        if g is None or self.msg is None:
            return
        title = g.title.plain().lower()
        kind = next(
            (
                v
                for (cls, t), v in _GENERIC.items()
                if cls in g.classes and (not t or title.startswith(t))
            ),
            None,
        )
        if kind is None:
            return  # a location, contact, poll, call, self-destructing media...: no file
        why = g.description.plain()
        if g.href:
            self._add_media(kind[0], g.href, kind[1])
        elif any(m in why.lower() for m in _NOT_EXPORTED):
            self.msg.missing.append((kind[0], why, kind[1]))
            if g.thumb:
                self._add_media("thumbnail", g.thumb, kind[1])

    def _finish(self) -> None:
        if self.msg is not None:
            self.done.append(self.msg)
        self.msg = None
        self.msg_depth = -1
        self.generic = None
        self.in_media = self.in_fwd = self.in_reply = False
