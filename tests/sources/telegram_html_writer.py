"""Telegram Desktop exports in HTML (and the same messages in JSON), written in code the way
Telegram Desktop's exporter writes them (export_output_html.cpp: the page layout, class
names, attribute order, "joined" messages, date titles with their zone, 1,000 messages a
page, media links relative to each page), for tests and bench/rooms_bench.py.

Media are ordinary generated pictures (rempart.samples.photo_like) and videos; nothing
here draws anything else."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
TOO_BIG = "(File exceeds maximum size. Change data exporting settings to download.)"
_WHY = {
    NOT_INCLUDED: "Not included, change data exporting settings to download.",
    TOO_BIG: "Exceeds maximum size, change data exporting settings to download.",
}
PER_PAGE = 1000  # kMessagesInFile
JOIN_WITHIN = 900  # kJoinWithinSeconds
MONTHS = (
    "January February March April May June July August September October November December"
).split()


@dataclass
class Msg:
    """One message, written the same in both formats. Paths are relative to the export
    folder (as in result.json); `text` is a string or a list of strings and (type, text)."""

    id: int
    unixtime: int
    sender: str = "Sender One"
    sender_id: int = 1001
    text: str | list[Any] = ""
    photo: str | None = None
    file: str | None = None
    media_type: str | None = None  # video_file, animation, sticker, voice_message, ...
    mime_type: str | None = None
    thumbnail: str | None = None
    file_name: str = ""
    forwarded_from: str | None = None
    via_bot: str | None = None  # "@name"
    reply_to: int | None = None
    service: str | None = None  # the text of a service message ("X created group ...")
    extra_html: str = ""  # raw markup added inside the body (hostile tests only)


@dataclass
class Chat:
    name: str
    messages: list[Msg]
    chat_id: int = 555
    json_type: str = "private_supergroup"
    html_type: str = "group"
    folder: str = ""  # "" for a single-chat export, "chats/chat_001/" in a whole-account one
    extra: dict[str, Any] = field(default_factory=dict)


def esc(text: str) -> str:
    """SerializeString: & < > " ' escaped, newlines as <br>."""
    return html.escape(text, quote=True).replace("&#x27;", "&apos;").replace("\n", "<br>")


class _Page:
    """Tags opened and closed with the exporter's indentation (one space a level)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.out: list[str] = []
        self.tags: list[tuple[str, bool]] = []

    def push(self, tag: str, attrs: dict[str, str] | None = None, block: bool = True) -> None:
        inner = "".join(f' {k}="{esc(v)}"' for k, v in sorted((attrs or {}).items()))
        pre = "\n" + " " * len(self.tags) if block else ""
        self.out.append(f"{pre}<{tag}{inner}>" + ("\n" if block else ""))
        self.tags.append((tag, block))

    def div(self, cls: str, **attrs: str) -> None:
        self.push("div", {"class": cls, **attrs})

    def empty(self, tag: str, attrs: dict[str, str]) -> None:
        inner = "".join(f' {k}="{esc(v)}"' for k, v in sorted(attrs.items()))
        self.out.append(f"\n{' ' * len(self.tags)}<{tag}{inner}/>\n")

    def pop(self) -> None:
        tag, block = self.tags.pop()
        pre = "\n" + " " * len(self.tags) if block else ""
        self.out.append(f"{pre}</{tag}>" + ("\n" if block else ""))

    def text(self, raw: str) -> None:
        self.out.append(raw)

    def start(self) -> None:
        self.out.append("<!DOCTYPE html>")
        self.push("html")
        self.push("head")
        self.empty("meta", {"charset": "utf-8"})
        self.push("title", block=False)
        self.text("Exported Data")
        self.pop()
        self.empty("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1.0"})
        self.empty("link", {"href": self.base + "css/style.css", "rel": "stylesheet"})
        self.push("script", {"src": self.base + "js/script.js", "type": "text/javascript"})
        self.pop()
        self.pop()
        self.push("body", {"onload": "CheckLocation();"})
        self.div("page_wrap")

    def header(self, name: str, back: str | None) -> None:
        self.div("page_header")
        if back is None:
            self.div("content")
        else:
            self.push(
                "a",
                {
                    "class": "content block_link",
                    "href": self.base + back,
                    "onclick": "return GoBack(this)",
                },
            )
        self.div("text bold")
        self.text(esc(name))
        self.pop()
        self.pop()
        self.pop()

    def close(self) -> str:
        while self.tags:
            self.pop()
        return "".join(self.out)


def zone_name(offset_minutes: int) -> str:
    sign = "+" if offset_minutes >= 0 else "-"
    h, m = divmod(abs(offset_minutes), 60)
    return f"UTC{sign}{h:02d}:{m:02d}"


def local(unixtime: int, offset_minutes: int) -> datetime:
    tz = timezone(timedelta(minutes=offset_minutes))
    return datetime.fromtimestamp(unixtime, tz).replace(tzinfo=None)


def _format_text(text: str | list[Any]) -> str:
    if isinstance(text, str):
        return esc(text)
    tags = {"bold": "strong", "italic": "em", "code": "code", "underline": "u"}
    out = []
    for part in text:
        if isinstance(part, str):
            out.append(esc(part))
        else:
            kind, value = part
            if kind == "link":
                out.append(f'<a href="{esc(value)}">{esc(value)}</a>')
            else:
                tag = tags.get(kind, "span")
                out.append(f"<{tag}>{esc(value)}</{tag}>")
    return "".join(out)


def _plain(text: str | list[Any]) -> str:
    return (
        text if isinstance(text, str) else "".join(p if isinstance(p, str) else p[1] for p in text)
    )


class HtmlChatWriter:
    """Writes one chat's pages, deciding "joined" messages the way the exporter does."""

    def __init__(
        self, root: Path, chat: Chat, offset_minutes: int, single: bool, per_page: int
    ) -> None:
        self.root, self.chat, self.offset = root, chat, offset_minutes
        self.single, self.per_page = single, per_page
        self.base = "../" * chat.folder.count("/")
        self.prev: Msg | None = None
        self.date_id = 0
        self.last_ids: list[int] = []

    def pages(self) -> Iterator[tuple[str, str]]:
        msgs = self.chat.messages
        count = max(1, (len(msgs) + self.per_page - 1) // self.per_page)
        for index in range(count):
            chunk = msgs[index * self.per_page : (index + 1) * self.per_page]
            yield page_name(index), self.page(index, chunk, index + 1 < count)
            if chunk:
                self.last_ids.append(chunk[-1].id)

    def page(self, index: int, msgs: list[Msg], more: bool) -> str:
        p = _Page(self.base)
        p.start()
        p.header(self.chat.name, None if self.single else "lists/chats.html")
        p.div("page_body chat_page")
        p.div("history")
        if index:
            p.push("a", {"class": "pagination block_link", "href": page_name(index - 1)})
            p.text("Previous messages")
            p.pop()
        self.prev = None  # a new page never joins the previous page's last message
        for m in msgs:
            day = local(m.unixtime, self.offset).date()
            if self.prev is None or local(self.prev.unixtime, self.offset).date() != day:
                self.date_id -= 1
                self.service(p, self.date_id, f"{day.day} {MONTHS[day.month - 1]} {day.year}")
            if m.service is not None:
                self.service(p, m.id, esc(m.service))
            else:
                self.message(p, m)
            self.prev = m
        if more:
            p.push("a", {"class": "pagination block_link", "href": page_name(index + 1)})
            p.text("Next messages")
            p.pop()
        return p.close()

    def service(self, p: _Page, mid: int, text: str) -> None:
        p.push("div", {"class": "message service", "id": f"message{mid}"})
        p.div("body details")
        p.text(text)
        p.pop()
        p.pop()

    def joined(self, m: Msg) -> bool:
        prev = self.prev
        if prev is None or prev.service is not None or prev.sender_id != m.sender_id:
            return False
        if prev.via_bot != m.via_bot or prev.forwarded_from != m.forwarded_from:
            return False
        if local(prev.unixtime, self.offset).date() != local(m.unixtime, self.offset).date():
            return False
        return abs(m.unixtime - prev.unixtime) <= (1 if m.forwarded_from else JOIN_WITHIN)

    def title(self, unixtime: int) -> str:
        return local(unixtime, self.offset).strftime("%d.%m.%Y %H:%M:%S ") + zone_name(self.offset)

    def message(self, p: _Page, m: Msg) -> None:
        joined = self.joined(m)
        cls = "message default clearfix" + (" joined" if joined else "")
        p.push("div", {"class": cls, "id": f"message{m.id}"})
        if not joined:
            p.div("pull_left userpic_wrap")
            p.div(f"userpic userpic{m.sender_id % 8 + 1}", style="width: 42px; height: 42px")
            p.div("initials", style="line-height: 42px")
            p.text(esc(m.sender[:1]))
            p.pop()
            p.pop()
            p.pop()
        p.div("body")
        p.div("pull_right date details", title=self.title(m.unixtime))
        p.text(local(m.unixtime, self.offset).strftime("%H:%M"))
        p.pop()
        via = f" via {esc(m.via_bot)}" if m.via_bot else ""
        if not joined:
            p.div("from_name")
            p.text(esc(m.sender) + ("" if m.forwarded_from else via))
            p.pop()
        if m.forwarded_from:
            p.div("forwarded body")
            if not joined:
                p.div("from_name")
                p.text(esc(m.forwarded_from) + via)
                p.push(
                    "span",
                    {"class": "date details", "title": self.title(m.unixtime - 3600)},
                    block=False,
                )
                p.text(" " + local(m.unixtime - 3600, self.offset).strftime("%d.%m.%Y %H:%M:%S"))
                p.pop()
                p.pop()
        if m.reply_to is not None:
            p.div("reply_to details")
            p.text("In reply to ")
            p.text(self.reply_link(m.reply_to))
            p.pop()
        self.media(p, m)
        if m.text:
            p.div("text")
            p.text(_format_text(m.text))
            p.pop()
        p.text(m.extra_html)
        if m.forwarded_from:
            p.pop()
        p.pop()
        p.pop()

    def reply_link(self, mid: int) -> str:
        for index, last in enumerate(self.last_ids):
            if mid <= last:
                return f'<a href="{page_name(index)}#go_to_message{mid}">this message</a>'
        return f'<a href="#go_to_message{mid}" onclick="return GoToMessage({mid})">this message</a>'

    def media(self, p: _Page, m: Msg) -> None:
        b = self.base
        if m.photo is not None:
            if m.photo in _WHY:
                self.generic(p, "media_photo", "Photo", "800x600, 120.0 KB", _WHY[m.photo], None)
                return
            p.div("media_wrap clearfix")
            p.push("a", {"class": "photo_wrap clearfix pull_left", "href": b + m.photo})
            p.empty(
                "img",
                {
                    "class": "photo",
                    "src": b + m.photo.rsplit(".", 1)[0] + "_thumb.jpg",
                    "style": "width: 260px; height: 195px",
                },
            )
            p.pop()
            p.pop()
            return
        if m.file is None:
            return
        missing = m.file in _WHY
        why = _WHY.get(m.file, "")
        link = None if missing else m.file
        kind = m.media_type
        if kind in ("video_file", "animation", "sticker") and not missing:
            wrap = {
                "video_file": "video_file_wrap",
                "animation": "animated_wrap",
                "sticker": "sticker_wrap",
            }[kind]
            p.div("media_wrap clearfix")
            p.push("a", {"class": f"{wrap} clearfix pull_left", "href": b + m.file})
            if kind != "sticker":
                p.div("video_play_bg")
                p.div("gif_play" if kind == "animation" else "video_play")
                p.text("GIF" if kind == "animation" else "")
                p.pop()
                p.pop()
            if kind == "video_file":
                p.div("video_duration")
                p.text("00:03")
                p.pop()
            thumb = m.thumbnail or (m.file + "_thumb.jpg")
            img = {"video_file": "video_file", "animation": "animated", "sticker": "sticker"}
            p.empty(
                "img",
                {"class": img[kind], "src": b + thumb, "style": "width: 160px; height: 120px"},
            )
            p.pop()
            p.pop()
            return
        titles = {
            "video_file": ("media_video", "Video file"),
            "animation": ("media_video", "Animation"),
            "sticker": ("media_photo", "Sticker"),
            "video_message": ("media_video", "Video message"),
            "voice_message": ("media_voice_message", "Voice message"),
            "audio_file": ("media_audio_file", "Audio file"),
        }
        cls, title = titles.get(kind or "", ("media_file", m.file_name or "File"))
        round_thumb = m.thumbnail if kind == "video_message" else None
        self.generic(p, cls, title, "00:03, 1.2 MB", why, link, round_thumb)

    def generic(
        self,
        p: _Page,
        cls: str,
        title: str,
        status: str,
        why: str,
        link: str | None,
        thumb: str | None = None,
    ) -> None:
        p.div("media_wrap clearfix")
        if link is None:
            p.div(f"media clearfix pull_left {cls}")
        else:
            p.push(
                "a",
                {"class": f"media clearfix pull_left block_link {cls}", "href": self.base + link},
            )
        if thumb:
            p.empty("img", {"class": "thumb pull_left", "src": self.base + thumb})
        else:
            p.div("fill pull_left")
            p.pop()
        p.div("body")
        p.div("title bold")
        p.text(esc(title))
        p.pop()
        if why:
            p.div("description")
            p.text(esc(why))
            p.pop()
        p.div("status details")
        p.text(esc(status))
        p.pop()
        p.pop()
        p.pop()
        p.pop()


def page_name(index: int) -> str:
    return "messages" + (str(index + 1) if index else "") + ".html"


def write_html_chat(
    root: Path,
    chat: Chat,
    *,
    offset_minutes: int = 60,
    single: bool = True,
    per_page: int = PER_PAGE,
) -> list[Path]:
    """The pages of one chat, under root/chat.folder; their paths."""
    folder = root / chat.folder
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in HtmlChatWriter(root, chat, offset_minutes, single, per_page).pages():
        (folder / name).write_text(text, encoding="utf-8")
        out.append(folder / name)
    return out


def json_message(m: Msg, offset_minutes: int = 60) -> dict[str, Any]:
    """The same message as the JSON exporter writes it (local time, its Unix time)."""
    out: dict[str, Any] = {
        "id": m.id,
        "type": "service" if m.service is not None else "message",
        "date": local(m.unixtime, offset_minutes).isoformat(),
        "date_unixtime": str(m.unixtime),
    }
    if m.service is not None:
        out.update(actor=m.sender, actor_id=f"user{m.sender_id}", action="create_group")
    else:
        out.update({"from": m.sender, "from_id": f"user{m.sender_id}"})
        if m.forwarded_from:
            out["forwarded_from"] = m.forwarded_from
        if m.reply_to is not None:
            out["reply_to_message_id"] = m.reply_to
        if m.via_bot:
            out["via_bot"] = m.via_bot
        if m.photo is not None:
            out.update(photo=m.photo, width=320, height=240)
        if m.file is not None:
            out["file"] = m.file
            if m.thumbnail:
                out["thumbnail"] = m.thumbnail
            if m.media_type:
                out["media_type"] = m.media_type
            if m.mime_type:
                out["mime_type"] = m.mime_type
    text = m.text
    out["text"] = (
        text
        if isinstance(text, str)
        else [p if isinstance(p, str) else {"type": p[0], "text": p[1]} for p in text]
    )
    out["text_entities"] = []
    return out


def json_chat(chat: Chat, offset_minutes: int = 60) -> dict[str, Any]:
    return {
        "name": chat.name,
        "type": chat.json_type,
        "id": chat.chat_id,
        "messages": [json_message(m, offset_minutes) for m in chat.messages],
    }


def write_json_chat(root: Path, chat: Chat, *, offset_minutes: int = 60) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "result.json"
    path.write_text(
        json.dumps(json_chat(chat, offset_minutes), ensure_ascii=False, indent=1), "utf-8"
    )
    return path


def write_account(
    root: Path, chats: list[Chat], *, offset_minutes: int = 60, json_too: bool = False
) -> None:
    """A whole-account export: export_results.html, lists/chats.html and each chat's pages
    under chats/chat_NNN/ (and result.json with the same chats when `json_too`)."""
    digits = len(str(len(chats)))
    for k, chat in enumerate(chats, 1):
        chat.folder = f"chats/chat_{k:0{digits}d}/"
    p = _Page("")
    p.start()
    p.header("Exported Data", None)
    p.div("page_body")
    p.push("a", {"class": "section block_link chats", "href": "lists/chats.html#allow_back"})
    p.div("counter details")
    p.text(str(len(chats)))
    p.pop()
    p.div("label bold")
    p.text("Chats")
    p.pop()
    p.pop()
    root.mkdir(parents=True, exist_ok=True)
    (root / "export_results.html").write_text(p.close(), encoding="utf-8")
    lst = _Page("../")
    lst.start()
    lst.header("Chats", "export_results.html")
    lst.div("page_body list_page")
    lst.div("page_about details")
    lst.text("This page lists all chats from this export.")
    lst.pop()
    lst.div("entry_list")
    for chat in chats:
        lst.push(
            "a",
            {
                "class": "entry block_link clearfix",
                "href": f"../{chat.folder}messages.html#allow_back",
            },
        )
        lst.div("pull_left userpic_wrap")
        lst.div("userpic userpic2", style="width: 48px; height: 48px")
        lst.pop()
        lst.pop()
        lst.div("body")
        lst.div("pull_right info details")
        lst.text(esc(chat.html_type))
        lst.pop()
        lst.div("name bold")
        lst.text(esc(chat.name))
        lst.pop()
        lst.div("details_entry details")
        lst.text(f"{len(chat.messages)} messages")
        lst.pop()
        lst.pop()
        lst.pop()
    (root / "lists").mkdir(parents=True, exist_ok=True)
    (root / "lists" / "chats.html").write_text(lst.close(), encoding="utf-8")
    for chat in chats:
        write_html_chat(root, chat, offset_minutes=offset_minutes, single=False)
    if json_too:
        doc = {
            "about": "Here is the data you requested.",
            "personal_information": {"user_id": 1, "first_name": "A", "last_name": ""},
            "chats": {
                "about": "This page lists all chats.",
                "list": [json_chat(c, offset_minutes) for c in chats],
            },
        }
        (root / "result.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")


def plain_text(text: str | list[Any]) -> str:
    return _plain(text)


def many_messages(count: int, start: int = 1, photo_every: int = 5) -> Iterable[Msg]:
    """`count` ordinary messages for benchmarks: senders taking turns (so some join), a
    caption each, a photo link every `photo_every` (to a file that is not there)."""
    t0 = 1709294400
    for i in range(count):
        mid = start + i
        yield Msg(
            mid,
            t0 + 37 * i,
            sender=f"Member {i // 3 % 50}",
            sender_id=2000 + i // 3 % 50,
            text=f"message {mid} " + "x" * 120,
            photo=f"photos/photo_{mid}.jpg" if i % photo_every == 0 else None,
            via_bot="@uploaderbot" if i % 97 == 0 else None,
            reply_to=mid - 1 if i % 11 == 0 and i else None,
        )
