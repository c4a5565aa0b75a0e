"""Telegram Desktop HTML exports: every photo, video and file a room's messages carry, with
where it came from, read from the pages Telegram Desktop writes by default.

"Export chat history" with the default format writes HTML, not JSON (its exporter:
Telegram/SourceFiles/export/output/export_output_html.cpp): messages.html, messages2.html, ...
(1,000 messages a page) with photos/, video_files/, files/, voice_messages/,
round_video_messages/ and stickers/ beside them; "Export Telegram data" writes
export_results.html, lists/chats.html and chats/chat_NNN/messages*.html. A volunteer who
exports with the defaults gets these files, so they must be read as well as result.json.

The pages are read as a stream (html.parser fed 32 KB at a time, a small state machine over
the classes the exporter writes), one message at a time, so a page of any size takes the
same memory; no DOM of a page is ever built. Per message: the same provenance as the JSON
reader wherever the HTML has it (message id, chat name, sender, date with its time zone,
forwarded from, via bot, reply to, caption, media path and type, media not exported) and
`"format": "telegram-html"`; what HTML does not have (the chat id, sender ids, MIME types)
is absent, `from_id` explicitly null.

Everything in a page is data: text is unescaped to plain strings (never kept as markup),
scripts are never run, attributes and texts are capped, nesting is bounded, a tag that never
ends is dropped past 1 MB, non-UTF-8 bytes are replaced, and a media link that is not a path
inside the export (absolute, `..` past the export folder, a link pointing outside, or a URL
with a scheme: http:, javascript:, file:) is refused. Each problem is reported naming the
page (a truncated page, a page missing from the numbered series, odd bytes); the messages
before and after it are still read.
"""

from __future__ import annotations

import codecs
import os
import posixpath
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from rempart.media.kinds import media_kind
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.telegram import CAPTION_LIMIT, _resolve

FORMAT = "telegram-html"
ACCOUNT_FILE = "export_results.html"
CHATS_LIST = "lists/chats.html"
CHUNK = 32 * 1024  # bytes read and fed to the parser at a time
MAX_PENDING = 1 << 16  # markup held unparsed (one tag or attribute) before it is dropped
# Markup still unclosed at the end of a page is dropped above this size instead of being
# handed to HTMLParser.close(), which retries it from every "<" to the end: quadratic
# (a page ending in 8,000 unclosed "<meta " took 10 s, 20,000 over a minute).
CLOSE_LIMIT = 4096
ATTR_LIMIT = 4096  # characters kept of an attribute
NAME_LIMIT = 500  # characters kept of a name, a title, a date
MAX_DEPTH = 256  # open elements tracked; deeper ones are counted, not kept
MAX_MEDIA = 16  # media links kept per message
MAX_CHATS = 100_000  # chats taken from lists/chats.html (the chats/ folder is read anyway)
_PAGE = re.compile(r"^messages([1-9][0-9]{0,5})?\.html$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_GO_TO = re.compile(r"go_to_message(-?[0-9]{1,12})$")
_VIA = re.compile(r"^(.*?)\s+via @([A-Za-z0-9_]{1,64})$", re.S)
_DATE = re.compile(
    r"^(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})"
    r"(?: ((?:UTC|GMT)(?:([+-])(\d{2}):?(\d{2}))?))?$"
)
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


def _date(title: str) -> dict[str, Any]:
    """The date div's title ("14.02.2024 21:03:45 UTC+01:00") as the JSON export writes it
    (local time, ISO) with the Unix time and zone the title gives."""
    m = _DATE.match(title.strip())
    if not m:
        return {"date": title[:NAME_LIMIT]} if title else {}
    day, month, year, hh, mm, ss, zone, sign, zh, zm = m.groups()
    try:
        local = datetime(int(year), int(month), int(day), int(hh), int(mm), int(ss))
    except ValueError:
        return {"date": title[:NAME_LIMIT]}
    out: dict[str, Any] = {"date": local.isoformat()}
    if zone:
        offset = timedelta(hours=int(zh or 0), minutes=int(zm or 0))
        offset = -offset if sign == "-" else offset
        if abs(offset) < timedelta(hours=24):
            out["timezone"] = zone
            out["date_unixtime"] = str(int(local.replace(tzinfo=timezone(offset)).timestamp()))
    return out


def _name_and_via(name: _Text) -> tuple[str, str]:
    text = name.plain(extra=80)
    m = _VIA.match(text)
    if m:
        return m.group(1).strip()[:NAME_LIMIT], "@" + m.group(2)
    return text[:NAME_LIMIT], ""


def _root_relative(page_dir: str, href: str) -> str | None:
    """A media link as a path from the export folder, or None when it is not one inside it
    (a URL with a scheme, an absolute path, `..` past the export folder)."""
    if not href or "\x00" in href or _SCHEME.match(href) or href.startswith(("/", "\\")):
        return None
    joined = posixpath.normpath(posixpath.join(page_dir, href))
    if joined in (".", "..") or joined.startswith("../") or posixpath.isabs(joined):
        return None
    return joined


class _ChatReader:
    """Reads the pages of one chat in order and turns messages into items."""

    def __init__(self, root: Path, folder: Path, chat: _Chat) -> None:
        self.root, self.folder, self.chat = root, folder, chat
        rel = os.path.relpath(folder, root)
        self.page_dir = "" if rel == "." else Path(rel).as_posix()
        self.export = str(root)
        self.page_name = ""

    def carry(self, msg: _Message) -> tuple[str, str, str]:
        """The message's sender, bot and forward: its own, or for a "joined" message (and a
        forward the exporter did not repeat) the previous message's; kept for the next."""
        chat = self.chat
        if msg.service:
            sender, via, fwd = "", "", ""
            chat.sender = chat.via = chat.forwarded_from = ""
        else:
            if msg.has_sender or not msg.joined:
                sender, via = _name_and_via(msg.sender)
                chat.sender, chat.via = sender, via
            else:
                sender, via = chat.sender, chat.via
            fwd = ""
            if msg.forwarded:
                if msg.has_fwd_name:
                    fwd, fwd_via = _name_and_via(msg.fwd_name)
                    via = via or fwd_via
                    chat.via = via
                else:
                    fwd = chat.forwarded_from
            chat.forwarded_from = fwd
        return sender, via, fwd

    def provenance(self, msg: _Message, sender: str, via: str, fwd: str) -> dict[str, Any]:
        chat = self.chat
        out: dict[str, Any] = {
            "source": "telegram",
            "format": FORMAT,
            "export": self.export,
            "page": self.page_name,
            "chat": chat.name[:NAME_LIMIT],
            "chat_type": chat.chat_type,
            "message_id": msg.id,
            **_date(msg.date_title),
            "from": sender,
            "forwarded_from": fwd,
            "via_bot": via,
            "reply_to_message_id": msg.reply_to,
            "caption": msg.caption.plain(),
        }
        out = {k: v for k, v in out.items() if v not in (None, "")}
        out["from_id"] = None  # HTML exports name senders but never give their ids
        return out

    def items(self, page: Path, msg: _Message) -> Iterator[MediaRef | SourceProblem]:
        who = self.carry(msg)
        if not msg.media and not msg.missing:
            return
        prov = self.provenance(msg, *who)
        where = f"{page}: chat {prov.get('chat', '?')!r}, message {msg.id}"
        for kind, why, mtype in msg.missing:
            item_prov = {**prov, "media_field": kind, **({"media_type": mtype} if mtype else {})}
            yield SourceProblem(
                f"{page}#message={msg.id}:{kind}",
                "not-exported",
                f"{where}: {kind} not in the export ({why[:120]})",
                item_prov,
            )
        for kind, href, mtype in msg.media:
            yield from self._one(page, where, prov, kind, href, mtype)

    def _one(
        self, page: Path, where: str, prov: dict[str, Any], kind: str, href: str, mtype: str | None
    ) -> Iterator[MediaRef | SourceProblem]:
        item_prov = {**prov, "media_field": kind, **({"media_type": mtype} if mtype else {})}
        rel = _root_relative(self.page_dir, href)
        path = _resolve(self.root, rel) if rel is not None else None
        if rel is None or path is None:
            what = (
                "is a link, not a file in the export"
                if _SCHEME.match(href)
                else "leaves the export folder"
            )
            yield SourceProblem(
                f"{where}: {href[:200]}",
                "path-outside-export",
                f"{where}: {kind} link {href[:200]!r} {what}; refused",
                {**item_prov, "original_path": href[:500]},
            )
            return
        item_prov["original_path"] = rel[:500]
        locator = f"{self.root / rel}#message={prov.get('message_id', '?')}"
        if not path.is_file():
            yield SourceProblem(
                locator,
                "not-exported",
                f"{where}: {kind} {rel!r} is missing from the export folder",
                item_prov,
            )
        elif media_kind(path) is not None:
            yield MediaRef(locator, path, item_prov)

    def page(self, page: Path) -> Iterator[MediaRef | SourceProblem]:
        parser = _PageParser(self.chat)
        self.page_name = Path(os.path.relpath(page, self.root)).as_posix()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        replaced = dropped = 0
        broken = ""
        try:
            with page.open("rb") as fh:
                first = True
                while True:
                    raw = fh.read(CHUNK)
                    text = decoder.decode(raw, final=not raw)
                    replaced += text.count("\ufffd") - raw.count(b"\xef\xbf\xbd")
                    if first:
                        text, first = text.removeprefix("\ufeff"), False
                    try:
                        if raw:
                            parser.feed(text)
                        else:
                            if len(parser.rawdata) > CLOSE_LIMIT:
                                dropped += 1
                                parser.rawdata = ""
                            parser.close()
                    except (AssertionError, ValueError, IndexError) as exc:
                        broken = broken or str(exc)[:120]
                        parser.rawdata = ""
                    if len(parser.rawdata) > MAX_PENDING:
                        dropped += 1
                        parser.rawdata = ""
                    while parser.done:
                        msg = parser.done.popleft()
                        self.chat.messages += 1
                        yield from self.items(page, msg)
                    if not raw:
                        break
        except OSError as exc:
            yield SourceProblem(
                str(page), "unreadable", f"{page}: cannot read ({exc.strerror or exc})"
            )
            return
        parser._finish()
        while parser.done:
            yield from self.items(page, parser.done.popleft())
        yield from self._page_problems(page, parser, replaced, dropped, broken)

    def _page_problems(
        self, page: Path, parser: _PageParser, replaced: int, dropped: int, broken: str
    ) -> Iterator[SourceProblem]:
        if replaced > 0:
            yield SourceProblem(
                f"{page}#encoding",
                "bad-encoding",
                f"{page}: {replaced} byte sequence(s) not UTF-8, replaced by U+FFFD; "
                "the rest of the page is read",
            )
        if dropped or parser.too_deep or broken:
            what = []
            if dropped:
                what.append(f"{dropped} piece(s) of markup over {MAX_PENDING} characters dropped")
            if parser.too_deep:
                what.append(f"elements nested deeper than {MAX_DEPTH} levels ignored")
            if broken:
                what.append(f"markup the parser could not read ({broken})")
            yield SourceProblem(
                f"{page}#markup",
                "malformed-export",
                f"{page}: {'; '.join(what)}; the messages around it are read",
            )
        if not parser.ended:
            yield SourceProblem(
                f"{page}#end",
                "malformed-export",
                f"{page}: truncated (no end of page); the media of its messages up to the cut "
                "are scanned",
            )


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
