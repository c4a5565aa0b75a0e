"""A room's evidence package (`rempart evidence export-room ROOM --out FILE.zip`): every
confirmed match found in the room, each with every sighting there and its provenance
(message, sender, date, forwarded from, via bot), the room's activity timeline and its links
to other rooms; signed and checked exactly like a match's package (rempart.cases.evidence:
the same manifest, Ed25519 signature and `rempart evidence verify`).

Why: police and prosecutors act against a room (its admins, its bots, its re-created
successors), not against one photo; they need the room's whole record in one package whose
integrity they can check. Only confirmed matches go in (a human decided each one), never
media: hashes, names, ids and dates only.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rempart import __version__
from rempart.cases import evidence, review, rooms_report
from rempart.cases.pdf import text_pdf
from rempart.errors import NotFound
from rempart.store import audit
from rempart.store.db import Database
from rempart.store.models import ScanItem, ScanRun

FORMAT = "rempart-room-evidence"


def _sighting(item: ScanItem, run: ScanRun | None) -> dict[str, Any]:
    return {
        "locator": item.locator,
        "media_type": item.media_type,
        "sha256": item.sha256,
        "md5": item.md5,
        "pdq": item.pdq,
        "pdq_quality": item.pdq_quality,
        "width": item.width,
        "height": item.height,
        "provenance": item.provenance or {},
        "scan_id": item.scan_id,
        "scanned_at": run.started_at.isoformat(timespec="seconds") if run else None,
    }


def collect(db: Database, room: str) -> dict[str, Any]:
    """The package's document for the rooms `room` names (a room's key, one of its names or
    its chat id: every export of that chat); NotFound when it names none."""
    data = rooms_report.load_items(db)
    chosen, _ = rooms_report.select_rooms(data, [room])
    if not chosen:
        raise NotFound(f"no room {room!r} in any scan (see `rempart rooms`)")
    full = rooms_report.collect(db)
    rooms = [r for r in full["rooms"] if r["room"] in chosen]
    links = [k for k in full["links"] if k["a"] in chosen or k["b"] in chosen]
    item_ids = {it.id for rd in chosen.values() for it in rd.items}
    hits = [h for h in rooms_report.sightings(db, item_ids) if h.status == "confirmed"]
    by_ref: dict[str, list[int]] = {}
    for h in hits:
        by_ref.setdefault(h.ref, []).append(h.item_id)
    matches = []
    with db.session() as s:
        for ref in sorted(by_ref, key=lambda r: (r[0], int(r[1:]))):
            item = review.get(db, ref)
            found = []
            for item_id in sorted(set(by_ref[ref])):
                scan_item = s.get(ScanItem, item_id)
                if scan_item is None:
                    continue
                found.append(_sighting(scan_item, s.get(ScanRun, scan_item.scan_id)))
            matches.append(
                {
                    "ref": ref,
                    "kind": item.kind,
                    "distance": item.distance,
                    "measure": item.measure,
                    "case": item.case,
                    "possible_minor": item.possible_minor,
                    "details": item.details,
                    "review": {
                        "status": item.status,
                        "by": item.reviewed_by,
                        "at": item.reviewed_at,
                        "reason": item.reason,
                    },
                    "found_in_room": found,
                }
            )
    now = datetime.now(UTC)
    return {
        "format": FORMAT,
        "version": 1,
        "package_id": hashlib.sha256(f"room|{room}|{now.isoformat()}".encode()).hexdigest()[:16],
        "created_at": now.isoformat(timespec="seconds"),
        "created_by": audit.current_actor(),
        "generator": f"rempart {__version__}",
        "room_selector": room,
        "rooms": rooms,
        "links": links,
        "confirmed_matches": matches,
        "cases": sorted({m["case"] for m in matches if m["case"]}),
    }


def _lines(doc: dict[str, Any]) -> list[str]:
    lines = [
        f"Room evidence package {doc['package_id']}",
        f"Made {doc['created_at']} by {doc['created_by']} with {doc['generator']}",
        f"Room: {doc['room_selector']}",
        "",
    ]
    for r in doc["rooms"]:
        lines += [
            f"ROOM #{r['number']}: {', '.join(r['names'])} (chat id {r['chat_id']}, "
            f"{r['chat_type']})",
            f"  Export: {r['export']}",
            f"  Messages {r['first_date']} - {r['last_date']}: {r['messages']} messages, "
            f"{r['media']} media, {r['matched_media']} matching banked cases, "
            f"{r['cases_targeted']} case(s), {r['face_matches']} face match(es)",
            "  Members: "
            + (", ".join(f"{m['name']} ({m['id']}): {m['media']}" for m in r["members"]) or "-"),
            "  Bots: " + (", ".join(f"{b['bot']}: {b['media']}" for b in r["bots"]) or "-"),
            "  Timeline (day: messages / media):",
        ]
        lines += [f"    {d['day']}: {d['messages']} / {d['media']}" for d in r["timeline"]]
        lines.append("")
    lines.append("LINKS TO OTHER ROOMS")
    for k in doc["links"]:
        lines.append(f"  {k['a']} <-> {k['b']}: {', '.join(k['kinds'])} (strength {k['strength']})")
    lines += ["", f"CONFIRMED MATCHES ({len(doc['confirmed_matches'])})"]
    for m in doc["confirmed_matches"]:
        lines += [
            f"  {m['ref']}  case {m['case']}  {m['kind']}  {m['measure']}"
            + ("  POSSIBLE MINOR" if m["possible_minor"] else ""),
            f"    Review: {m['review']['status']} by {m['review']['by']} on "
            f"{m['review']['at']}: {m['review']['reason']}",
        ]
        for f in m["found_in_room"]:
            p = f["provenance"]
            lines += [
                f"    Found: {f['locator']}",
                f"      SHA-256 {f['sha256']}  scan {f['scan_id']} on {f['scanned_at']}",
                f"      message {p.get('message_id')} on {p.get('date')} from "
                f"{p.get('from')} ({p.get('from_id')})"
                + (f", forwarded from {p['forwarded_from']}" if p.get("forwarded_from") else "")
                + (f", via {p['via_bot']}" if p.get("via_bot") else ""),
            ]
    lines += [
        "",
        "This package holds no image: hashes, names, ids and dates only.",
        "Check it with: rempart evidence verify PACKAGE.zip",
    ]
    return lines


def export_room(db: Database, home: Path, room: str, out: Path) -> dict[str, Any]:
    """Write the signed package of the room(s) `room` names to `out`; returns the manifest
    with the counts a front-end prints (`confirmed_matches`, `rooms`)."""
    doc = collect(db, room)
    lines = _lines(doc)
    files = {
        "room.json": json.dumps(doc, indent=2, ensure_ascii=False, default=str).encode(),
        "report.html": evidence._html(lines).encode(),
        "report.pdf": text_pdf("Rempart room evidence", lines),
    }
    manifest = evidence.write_signed(home, files, doc["package_id"], doc["created_at"], out)
    with db.session() as s:
        for number in doc["cases"] or [None]:
            audit.record(
                s,
                "evidence-export-room",
                case=number,
                details={
                    "room": room,
                    "package": doc["package_id"],
                    "file": str(out),
                    "matches": [m["ref"] for m in doc["confirmed_matches"]],
                },
            )
    return {
        **manifest,
        "confirmed_matches": len(doc["confirmed_matches"]),
        "rooms": len(doc["rooms"]),
    }
