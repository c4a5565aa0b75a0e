"""Rooms over time: link Telegram rooms seen in scans, with the evidence for each link.

A room is a chat of a Telegram export (one per export and chat id). Rooms are linked when:
- they have the same chat id (the same room exported again, maybe renamed);
- they share media: identical files (SHA-256) or the same picture re-encoded (PDQ within 31);
- they share members (the same sender ids) or bots (`via_bot`);
- one forwards from the other (`forwarded_from` names the other room).
Everything comes from what scans recorded (media items with their provenance): a sender who
never posted media is not seen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from rempart.index.binary_index import BinaryHashIndex, hex_to_array
from rempart.signals.pdq import DEFAULT_THRESHOLD, MIN_QUALITY, hex_words, within
from rempart.store.db import Database
from rempart.store.models import ScanItem


@dataclass
class Room:
    key: str  # "export|chat id"
    export: str
    chat_id: str
    names: set[str] = field(default_factory=set)
    chat_type: str = ""
    messages: set[str] = field(default_factory=set)
    media_sha: set[str] = field(default_factory=set)
    media_pdq: set[str] = field(default_factory=set)
    members: dict[str, str] = field(default_factory=dict)  # sender id -> name
    bots: set[str] = field(default_factory=set)
    forwarded_from: set[str] = field(default_factory=set)
    first: str = ""
    last: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "room": self.key,
            "names": sorted(self.names),
            "chat_id": self.chat_id,
            "chat_type": self.chat_type,
            "export": self.export,
            "messages_with_media": len(self.messages),
            "media": len(self.media_sha),
            "members": len(self.members),
            "bots": sorted(self.bots),
            "first_date": self.first,
            "last_date": self.last,
        }


@dataclass
class Link:
    a: str
    b: str
    evidence: dict[str, Any]

    @property
    def strength(self) -> int:
        e = self.evidence
        return (
            100 * bool(e.get("same_chat_id"))
            + 10 * len(e.get("identical_media", []))
            + 5 * e.get("similar_media", 0)
            + 3 * len(e.get("shared_bots", []))
            + 2 * len(e.get("shared_members", []))
            + 5 * len(e.get("forwards", []))
        )


def load_rooms(db: Database) -> dict[str, Room]:
    rooms: dict[str, Room] = {}
    with db.session() as s:
        rows = s.execute(
            select(ScanItem.provenance, ScanItem.sha256, ScanItem.pdq, ScanItem.pdq_quality)
        ).all()
    for prov, sha, pdq, quality in rows:
        add_item(rooms, prov, sha, pdq, quality)
    return rooms


def add_item(
    rooms: dict[str, Room],
    prov: dict[str, Any] | None,
    sha: str | None,
    pdq: str | None,
    quality: int | None,
) -> Room | None:
    """Add one scanned item to its room (made on first sight); None when the item is not
    from a Telegram export. load_rooms and the rooms report (rempart.cases.rooms_report)
    both read rooms this way."""
    if not prov or prov.get("source") != "telegram":
        return None
    export, chat_id = str(prov.get("export", "")), str(prov.get("chat_id", ""))
    # HTML exports give no chat id: a whole-account one holds many chats under one folder,
    # told apart by their names
    key = f"{export}|{chat_id}" if chat_id else f"{export}|name:{prov.get('chat', '')}"
    room = rooms.get(key)
    if room is None:
        room = rooms[key] = Room(key, export, chat_id)
    if prov.get("chat"):
        room.names.add(str(prov["chat"]))
    room.chat_type = str(prov.get("chat_type", room.chat_type))
    if prov.get("message_id"):
        room.messages.add(str(prov["message_id"]))
    if sha:
        room.media_sha.add(sha)
    if pdq and (quality or 0) >= MIN_QUALITY:
        room.media_pdq.add(pdq)
    if prov.get("from_id"):
        room.members[str(prov["from_id"])] = str(prov.get("from", ""))
    if prov.get("via_bot"):
        room.bots.add(str(prov["via_bot"]))
    if prov.get("forwarded_from"):
        room.forwarded_from.add(str(prov["forwarded_from"]))
    date = str(prov.get("date", ""))
    if date:
        room.first = min(room.first, date) if room.first else date
        room.last = max(room.last, date)
    return room


def _similar(a: set[str], b: set[str]) -> int:
    """How many of a's pictures have a look-alike (PDQ <= 31) in b (the two sets share no
    hash: identical media are counted apart)."""
    if not a or not b:
        return 0
    close = within(hex_words(sorted(a)), hex_words(sorted(b)), DEFAULT_THRESHOLD)
    return int(close.any(axis=1).sum())


def _similar_pairs(rooms: dict[str, Room]) -> dict[tuple[str, str], int]:
    """`_similar(a - b, b - a)` for every ordered pair of rooms (a, b) that has look-alikes,
    from one radius search over all the rooms' pictures (the index's multi-index hashing)
    instead of one comparison per pair: 100 rooms are 4,950 pairs."""
    holders: dict[str, list[str]] = defaultdict(list)  # picture -> the rooms holding it
    for key, room in rooms.items():
        for h in room.media_pdq:
            holders[h].append(key)
    hashes = sorted(holders)
    if len(hashes) < 2:
        return {}
    index = BinaryHashIndex()
    index.add(np.arange(len(hashes)), hex_to_array(hashes))
    index.compact()
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for i, (ids, _) in enumerate(index.search(hex_to_array(hashes), DEFAULT_THRESHOLD)):
        h = hashes[i]
        for j in ids.tolist():
            if j == i:
                continue
            g = hashes[j]
            for ka in holders[h]:
                if g in rooms[ka].media_pdq:
                    continue
                for kb in holders[g]:
                    if kb != ka and h not in rooms[kb].media_pdq:
                        found[(ka, kb)].add(h)
    return {pair: len(pictures) for pair, pictures in found.items()}


def link_rooms(rooms: dict[str, Room], min_members: int = 2) -> list[Link]:
    keys = sorted(rooms)
    links: list[Link] = []
    similar_pairs = _similar_pairs(rooms)
    for i, ka in enumerate(keys):
        a = rooms[ka]
        for kb in keys[i + 1 :]:
            b = rooms[kb]
            ev: dict[str, Any] = {}
            if a.chat_id and a.chat_id == b.chat_id:
                ev["same_chat_id"] = a.chat_id
                if a.names != b.names:
                    ev["renamed"] = [sorted(a.names), sorted(b.names)]
            if shared := sorted(a.media_sha & b.media_sha):
                ev["identical_media"] = shared[:50]
            if similar := similar_pairs.get((ka, kb), 0):
                ev["similar_media"] = similar
            members = sorted(set(a.members) & set(b.members))
            if len(members) >= min_members or (members and ev):
                ev["shared_members"] = [f"{a.members[m]} ({m})" for m in members][:50]
            if bots := sorted(a.bots & b.bots):
                ev["shared_bots"] = bots
            forwards = [
                f"{rooms[x].key} forwards from {name!r}"
                for x, y in ((ka, kb), (kb, ka))
                for name in rooms[x].forwarded_from
                if name in rooms[y].names
            ]
            if forwards:
                ev["forwards"] = forwards
            if ev:
                links.append(Link(ka, kb, ev))
    return sorted(links, key=lambda link: -link.strength)
