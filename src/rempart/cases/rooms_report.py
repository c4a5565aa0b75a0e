"""The rooms intelligence report's figures: what the Telegram exports scanned so far say about
the rooms, the links between them and how banked photos spread (`rempart rooms report`, the
web UI's rooms page, `rempart evidence export-room`).

Why a module of its own: an investigator needs the organisation behind the abuse in numbers
(how many rooms, members, bots, women targeted; which rooms re-form after deletion; where a
photo was first posted and where it went next), and every front-end must compute the same
numbers from the same rows. Everything comes from what scans recorded (items with their
provenance, matches and their sightings, face matches): never a picture, only counts, names,
ids and dates. Rendering (HTML, PNG charts, JSON) is in rooms_render.py.

Scope: `cases` (an organisation's case numbers; None: every case) keeps only the rooms
where one of those cases was matched, and only those cases' matches; `rooms` (keys, names
or chat ids) keeps only the rooms named.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from rempart import __version__
from rempart.scan.rooms import Link, Room, add_item, link_rooms
from rempart.store.db import Database
from rempart.store.models import (
    Bank,
    BankItem,
    Case,
    FaceMatch,
    FaceMatchOccurrence,
    FaceTemplate,
    Match,
    MatchOccurrence,
    ScanItem,
)

FORMAT = "rempart-rooms-report"
# The scan stores each item's synthetic-media findings (scan_items.synthetic: a list of
# rempart.signals.synthetic Finding JSON; NULL when the scan did not look). Older scans may
# carry a marker in the provenance instead: these keys are read then. Only the IPTC types of
# AI-trained media count (plain algorithmicMedia is not AI-trained: docs/synthetic.md).
SYNTHETIC_KEYS = ("synthetic", "synthetic_media", "digital_source_type")
SYNTHETIC_TYPES = ("trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia")
SYNTHETIC_INDICATES = ("ai-generated", "ai-modified")


@dataclass
class Item:
    """One scanned item of a room: a message's media (or what the export lacked)."""

    id: int
    message_id: str
    day: str
    date: str
    sha256: str | None
    sender: str  # sender id, or "name:<name>" when the export has no ids (HTML)
    sender_name: str
    via_bot: str
    forwarded_from: str
    synthetic: bool | None  # None: no signal recorded for this item


@dataclass
class RoomData:
    room: Room
    items: list[Item] = field(default_factory=list)


def _stored_synthetic(findings: Any, prov: dict[str, Any]) -> bool | None:
    """Whether the scan found an AI-generated/altered signal on the item (its stored
    findings); None when the scan did not look (then the provenance's markers, if any)."""
    if isinstance(findings, list):
        return any(
            isinstance(f, dict) and f.get("indicates") in SYNTHETIC_INDICATES for f in findings
        )
    return _synthetic(prov)


def _synthetic(prov: dict[str, Any]) -> bool | None:
    """Whether a synthetic-media marker in the provenance marked the item; None when there
    is none (read defensively)."""
    found = None
    holders = [prov]
    signals = prov.get("signals")
    if isinstance(signals, dict):
        holders.append(signals)
    for holder in holders:
        for key in SYNTHETIC_KEYS:
            if key not in holder:
                continue
            value = holder[key]
            if isinstance(value, bool):
                found = found or value
            elif isinstance(value, int | float):
                found = found or value > 0
            elif isinstance(value, str):
                text = value.strip().lower().rsplit("/", 1)[-1]
                found = found or (
                    text in SYNTHETIC_TYPES if key == "digital_source_type" else bool(text)
                )
            elif isinstance(value, dict):
                flag = value.get("synthetic", value.get("detected"))
                found = found or bool(flag)
    return found


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def load_items(db: Database) -> dict[str, RoomData]:
    """Every Telegram room the scans saw, with its items (room key -> RoomData)."""
    rooms: dict[str, Room] = {}
    data: dict[str, RoomData] = {}
    with db.session() as s:
        rows = s.execute(
            select(
                ScanItem.id,
                ScanItem.provenance,
                ScanItem.sha256,
                ScanItem.pdq,
                ScanItem.pdq_quality,
                ScanItem.synthetic,
            ).order_by(ScanItem.id)
        ).all()
    for item_id, prov, sha, pdq, quality, findings in rows:
        room = add_item(rooms, prov, sha, pdq, quality)
        if room is None:
            continue
        rd = data.get(room.key)
        if rd is None:
            rd = data[room.key] = RoomData(room)
        date = _text(prov.get("date"))
        sender_id, sender_name = _text(prov.get("from_id")), _text(prov.get("from"))
        rd.items.append(
            Item(
                id=int(item_id),
                message_id=_text(prov.get("message_id")),
                day=date[:10],
                date=date,
                sha256=sha,
                sender=sender_id or (f"name:{sender_name}" if sender_name else ""),
                sender_name=sender_name,
                via_bot=_text(prov.get("via_bot")),
                forwarded_from=_text(prov.get("forwarded_from")),
                synthetic=_stored_synthetic(findings, prov),
            )
        )
    return data


@dataclass(frozen=True)
class Hit:
    """A match (hash or face) seen on a scanned item."""

    ref: str  # m12 or f3
    item_id: int
    case: str | None
    status: str
    bank_item: int | None  # hash matches: the bank entry
    bank: str | None


def sightings(db: Database, item_ids: set[int]) -> list[Hit]:
    """Every sighting (first and later) of every match (hash and face) on these items."""
    out: set[Hit] = set()
    with db.session() as s:
        base = (
            select(Match.id, Case.number, Match.review_status, BankItem.id, Bank.name)
            .join(BankItem, Match.bank_item_id == BankItem.id)
            .join(Bank, BankItem.bank_id == Bank.id)
            .outerjoin(Case, BankItem.case_id == Case.id)
        )
        seen = [
            *s.execute(base.add_columns(Match.scan_item_id)),
            *s.execute(
                base.add_columns(MatchOccurrence.scan_item_id).join(
                    MatchOccurrence, MatchOccurrence.match_id == Match.id
                )
            ),
        ]
        for mid, number, status, entry, bank, item in seen:
            if item in item_ids:
                out.add(Hit(f"m{mid}", int(item), number, status, int(entry), bank))
        fbase = (
            select(FaceMatch.id, Case.number, FaceMatch.review_status)
            .join(FaceTemplate, FaceMatch.template_id == FaceTemplate.id)
            .outerjoin(Case, FaceTemplate.case_id == Case.id)
        )
        fseen = [
            *s.execute(fbase.add_columns(FaceMatch.scan_item_id)),
            *s.execute(
                fbase.add_columns(FaceMatchOccurrence.scan_item_id).join(
                    FaceMatchOccurrence, FaceMatchOccurrence.face_match_id == FaceMatch.id
                )
            ),
        ]
        for fid, number, status, item in fseen:
            if item in item_ids:
                out.add(Hit(f"f{fid}", int(item), number, status, None, None))
    return sorted(out, key=lambda h: (h.item_id, h.ref))


def _selects(room: Room, wanted: str) -> bool:
    return wanted in (room.key, room.chat_id) or wanted in room.names


def select_rooms(data: dict[str, Any], wanted: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """The rooms that the names in `wanted` select (a room's key, one of its names or its
    chat id: a chat id selects every export of that chat), and the names that select none."""
    chosen = {k: v for k, v in data.items() if any(_selects(v.room, w) for w in wanted)}
    missing = [w for w in wanted if not any(_selects(v.room, w) for v in data.values())]
    return chosen, missing


def _link_kinds(link: Link, rooms: dict[str, Room]) -> list[str]:
    ev = link.evidence
    kinds = []
    if ev.get("same_chat_id"):
        kinds.append("renamed" if ev.get("renamed") else "re-exported")
    if ev.get("same_name"):  # without a chat id (HTML exports) nothing tells which
        both_ids = rooms[link.a].chat_id and rooms[link.b].chat_id
        kinds.append("re-created" if both_ids else "same-name")
    if ev.get("identical_media") or ev.get("similar_media"):
        kinds.append("shared-media")
    if ev.get("forwards"):
        kinds.append("forwarded")
    if ev.get("shared_members"):
        kinds.append("shared-members")
    if ev.get("shared_bots"):
        kinds.append("shared-bots")
    return kinds


def _links(rooms: dict[str, Room], min_members: int) -> list[Link]:
    """rempart.scan.rooms's links, plus rooms re-created under the same name (another chat
    id: Telegram gives a deleted room's successor a new one)."""
    links = {frozenset((k.a, k.b)): k for k in link_rooms(rooms, min_members=min_members)}
    keys = sorted(rooms)
    for i, ka in enumerate(keys):
        for kb in keys[i + 1 :]:
            a, b = rooms[ka], rooms[kb]
            shared = sorted(a.names & b.names)
            if not shared or (a.chat_id and a.chat_id == b.chat_id):
                continue
            link = links.get(frozenset((ka, kb)))
            if link is None:
                link = links[frozenset((ka, kb))] = Link(ka, kb, {})
            link.evidence["same_name"] = shared
    return sorted(links.values(), key=lambda k: (-k.strength, k.a, k.b))


def collect(
    db: Database,
    rooms: Sequence[str] | None = None,
    cases: Collection[str] | None = None,
    *,
    min_members: int = 2,
) -> dict[str, Any]:
    """The report's figures (a JSON-ready dict; see docs/rooms.md for each field)."""
    data = load_items(db)
    item_room = {it.id: key for key, rd in data.items() for it in rd.items}
    hits = sightings(db, set(item_room))
    if cases is not None:  # first: a room out of scope is "not found", as one that is not
        allowed = set(cases)
        hits = [h for h in hits if h.case in allowed]
        matched_rooms = {item_room[h.item_id] for h in hits}
        data = {k: v for k, v in data.items() if k in matched_rooms}
    missing: list[str] = []
    if rooms:
        data, missing = select_rooms(data, rooms)
        hits = [h for h in hits if item_room[h.item_id] in data]
    by_room: dict[str, list[Hit]] = defaultdict(list)
    for h in hits:
        by_room[item_room[h.item_id]].append(h)
    order = sorted(data, key=lambda k: (data[k].room.first or "9999", k))
    number = {k: i for i, k in enumerate(order, 1)}
    report_rooms = [_room(data[k], number[k], by_room.get(k, [])) for k in order]
    links = _links({k: data[k].room for k in order}, min_members)
    room_rooms = {k: data[k].room for k in order}
    report_links = [
        {
            "a": k.a,
            "b": k.b,
            "a_number": number[k.a],
            "b_number": number[k.b],
            "kinds": _link_kinds(k, room_rooms),
            "strength": k.strength,
            "evidence": k.evidence,
        }
        for k in links
    ]
    items = {it.id: (key, it) for key, rd in data.items() for it in rd.items}
    spread = _spread(hits, items, number)
    all_cases = sorted({h.case for h in hits if h.case})
    return {
        "format": FORMAT,
        "version": 1,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": f"rempart {__version__}",
        "scope": {
            "rooms": list(rooms or []),
            "rooms_not_found": missing,
            "cases": "all" if cases is None else "organisation",
        },
        "totals": {
            "rooms": len(report_rooms),
            "messages": sum(r["messages"] for r in report_rooms),
            "media": sum(r["media"] for r in report_rooms),
            "matched_media": sum(r["matched_media"] for r in report_rooms),
            "cases_targeted": len(all_cases),
            "face_matches": sum(r["face_matches"] for r in report_rooms),
            "members": len({m["id"] for r in report_rooms for m in r["members"]}),
            "bots": len({b["bot"] for r in report_rooms for b in r["bots"]}),
            "links": len(report_links),
            "banked_photos_seen": len(spread),
        },
        "rooms": report_rooms,
        "links": report_links,
        "banked": spread,
    }


def _room(rd: RoomData, number: int, hits: list[Hit]) -> dict[str, Any]:
    room = rd.room
    seen: set[tuple[str, str]] = set()  # (message, content): a message scanned twice is one
    messages: dict[str, set[str]] = defaultdict(set)
    media: Counter[str] = Counter()
    members: dict[str, dict[str, Any]] = {}
    bots: Counter[str] = Counter()
    forwarded: Counter[str] = Counter()
    synthetic: int | None = None
    media_items: set[int] = set()
    for it in rd.items:
        messages[it.day].add(it.message_id or f"item{it.id}")
        if it.sender and it.sender not in members:
            members[it.sender] = {"id": it.sender, "name": it.sender_name, "media": 0}
        if not it.sha256:
            continue
        ident = (it.message_id or f"item{it.id}", it.sha256)
        if ident in seen:
            continue
        seen.add(ident)
        media_items.add(it.id)
        media[it.day] += 1
        if it.sender:
            members[it.sender]["media"] += 1
        if it.via_bot:
            bots[it.via_bot] += 1
        if it.forwarded_from:
            forwarded[it.forwarded_from] += 1
        if it.synthetic is not None:
            synthetic = (synthetic or 0) + int(it.synthetic)
    days = sorted(set(messages) | set(media))
    hash_hits = [h for h in hits if h.ref.startswith("m")]
    face_hits = [h for h in hits if h.ref.startswith("f")]
    matched_items = {h.item_id for h in hash_hits}
    matched_content = {
        it.sha256 for it in rd.items if it.id in matched_items and it.sha256 is not None
    }
    return {
        "room": room.key,
        "number": number,
        "names": sorted(room.names),
        "chat_id": room.chat_id,
        "chat_type": room.chat_type,
        "export": room.export,
        "first_date": room.first,
        "last_date": room.last,
        "messages": sum(len(v) for v in messages.values()),
        "media": len(seen),
        "timeline": [
            {"day": d, "messages": len(messages.get(d, ())), "media": media.get(d, 0)}
            for d in days
            if d
        ],
        "members": sorted(members.values(), key=lambda m: (-m["media"], m["id"])),
        "bots": [{"bot": b, "media": n} for b, n in sorted(bots.items(), key=_by_count)],
        "forwarded_from": [
            {"name": f, "media": n} for f, n in sorted(forwarded.items(), key=_by_count)
        ],
        "matched_media": len(matched_content),
        "matches": len({h.ref for h in hash_hits}),
        "confirmed_matches": len({h.ref for h in hash_hits if h.status == "confirmed"}),
        "cases": sorted({h.case for h in hits if h.case}),
        "cases_targeted": len({h.case for h in hits if h.case}),
        "face_matches": len({h.ref for h in face_hits}),
        "synthetic_media": synthetic,
    }


def _by_count(kv: tuple[str, int]) -> tuple[int, str]:
    return -kv[1], kv[0]


def _spread(
    hits: list[Hit], items: dict[int, tuple[str, Item]], number: dict[str, int]
) -> list[dict[str, Any]]:
    """For each banked photo found in the rooms: where and when it was first seen and every
    later sighting, in date order."""
    per_entry: dict[int, dict[str, Any]] = {}
    sightings: dict[int, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for h in hits:
        if h.bank_item is None or h.item_id not in items:
            continue
        key, it = items[h.item_id]
        per_entry.setdefault(
            h.bank_item, {"bank_entry": h.bank_item, "bank": h.bank, "case": h.case}
        )
        sightings[h.bank_item].setdefault(
            (key, it.message_id or f"item{it.id}"),
            {
                "room": key,
                "room_number": number[key],
                "date": it.date,
                "message_id": it.message_id,
                "from": it.sender_name,
                "forwarded_from": it.forwarded_from,
                "via_bot": it.via_bot,
            },
        )
    out = []
    for entry, doc in per_entry.items():
        seen = sorted(
            sightings[entry].values(), key=lambda x: (x["date"] or "9999", x["room_number"])
        )
        rooms_in_order: list[int] = []
        for x in seen:
            if x["room_number"] not in rooms_in_order:
                rooms_in_order.append(x["room_number"])
        out.append(
            {
                **doc,
                "first_seen": seen[0],
                "sightings": seen,
                "rooms": rooms_in_order,
            }
        )
    return sorted(out, key=lambda d: (d["first_seen"]["date"] or "9999", d["bank_entry"]))
