"""The chat reader of Telegram Desktop HTML exports (rempart.sources.telegram_html): the
pages of one chat read in order through the page parser (telegram_html_parse.py), each
message turned into media items (MediaRef) and problems (SourceProblem).

It exists apart from the page parser because its job is a different one: what a message
means rather than how its markup reads. Per message: the same provenance as the JSON reader
wherever the HTML has it (message id, chat name, sender, date with its time zone, forwarded
from, via bot, reply to, caption, media path and type, media not exported) and
`"format": "telegram-html"`; what HTML does not have (the chat id, sender ids, MIME types)
is absent, `from_id` explicitly null. A "joined" message keeps the previous sender, bot and
forward. A media link that is not a path inside the export (absolute, `..` past the export
folder, a link pointing outside, or a URL with a scheme: http:, javascript:, file:) is
refused. Each problem of a page is reported naming it (a truncated page, odd bytes, markup
dropped past its limits); the messages before and after it are still read.
"""

from __future__ import annotations

import codecs
import os
import posixpath
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rempart.media.kinds import media_kind
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.telegram import _resolve
from rempart.sources.telegram_html_parse import (
    CHUNK,
    MAX_DEPTH,
    MAX_PENDING,
    NAME_LIMIT,
    _Chat,
    _Message,
    _PageParser,
    _Text,
)

FORMAT = "telegram-html"
# Markup still unclosed at the end of a page is dropped above this size instead of being
# handed to HTMLParser.close(), which retries it from every "<" to the end: quadratic
# (a page ending in 8,000 unclosed "<meta " took 10 s, 20,000 over a minute).
CLOSE_LIMIT = 4096
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_VIA = re.compile(r"^(.*?)\s+via @([A-Za-z0-9_]{1,64})$", re.S)
_DATE = re.compile(
    r"^(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})"
    r"(?: ((?:UTC|GMT)(?:([+-])(\d{2}):?(\d{2}))?))?$"
)


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
