"""Scan reports: JSON (everything, nested) and CSV (one row per match or problem)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from rempart.scan.matcher import Hit
from rempart.scan.options import ScanResult
from rempart.scan.recording import load_result, summary
from rempart.scan.synthetic import summary_text
from rempart.store.db import Database
from rempart.store.models import ScanRun
from rempart.store.repository import StoreError

CSV_COLUMNS = (
    "file",
    "status",
    "bank",
    "bank_entry",
    "case",
    "signal",
    "distance",
    "transform",
    "reason",
    "detail",
    "where",
    # where the item came from (Telegram exports, archives; empty for plain folders)
    "source",
    "chat",
    "message_id",
    "sender",
    "sender_id",
    "date",
    "forwarded_from",
    "via_bot",
    "caption",
    "archive_member",
    # robust stage: the match's normalised score (<= 1.0) and where it matched
    "score",
    "area",
    # synthetic-media signals, "indicates:type;..." (scan/synthetic.py; empty: none found)
    "synthetic",
)


def _provenance_columns(prov: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": prov.get("source", ""),
        "chat": prov.get("chat", ""),
        "message_id": prov.get("message_id", ""),
        "sender": prov.get("from", ""),
        "sender_id": prov.get("from_id", ""),
        "date": prov.get("date", ""),
        "forwarded_from": prov.get("forwarded_from", ""),
        "via_bot": prov.get("via_bot", ""),
        "caption": (prov.get("caption") or "")[:300],
        "archive_member": prov.get("member", ""),
    }


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def _spans(ranges: Any) -> str:
    return ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in ranges or [])


def _face_where(box: tuple[int, int, int, int], time: float | None) -> str:
    left, top, right, bottom = box
    at = f" at {_clock(time)}" if time is not None else ""
    return f"face at x {left}-{right}, y {top}-{bottom}{at}"


def describe_where(hit: Hit, *, short: bool = False) -> str:
    """Where a match lies in time, in words: which part of the found video matched which
    part of hers, or at what moment a photo appears; empty for photo-to-photo matches."""
    d = hit.details or {}
    if "stored_percent" in d and short:
        return (
            f"{d['query_percent']:.0f}% {_spans(d.get('query_ranges'))} = bank "
            f"{d['stored_percent']:.0f}% {_spans(d.get('stored_ranges'))}"
        )
    if "stored_percent" in d:
        return (
            f"{d['query_percent']:.0f}% of this video ({_spans(d.get('query_ranges'))}) "
            f"matches {d['stored_percent']:.0f}% of the bank video "
            f"({_spans(d.get('stored_ranges'))})"
        )
    if d.get("kind") == "photo in video":
        return f"the bank photo appears at {_spans(d.get('query_ranges'))}"
    if d.get("stored_time") is not None:
        return f"a frame of the bank video at {_clock(float(d['stored_time']))}"
    return ""


_HOW = {
    "pdq-trimmed": "the picture inside a border, pad or screenshot frame",
    "pdq-deskewed": "the picture, turned back upright",
    "pdq-crop": "a crop of the bank photo",
    "pdq-rotation": "the bank photo, rotated",
    "pdq-region": "a part of the bank photo",
    "local-features": "keypoints of an unchanged part of the bank photo",
}


def _box(b: Any) -> str:
    x0, y0, x1, y1 = (round(100 * float(v)) for v in b)
    return f"x {x0}-{x1}%, y {y0}-{y1}%"


_SHORT = {
    "pdq-trimmed": "inside a frame",
    "pdq-deskewed": "turned upright",
    "pdq-crop": "crop",
    "pdq-rotation": "rotated",
    "pdq-region": "part",
    "local-features": "keypoints",
}


def describe_area(hit: Hit, *, short: bool = False) -> str:
    """For the robust stage: what matched, and where, in words."""
    d = hit.details or {}
    how = _HOW.get(hit.signal)
    if how is None:
        return ""
    lf = d.get("local_features")
    if short:
        if isinstance(lf, dict) and "found_area" in lf:
            return f"found {_box(lf['found_area'])}"
        return _SHORT[hit.signal]
    text = how
    if d.get("variant") and hit.signal in ("pdq-crop", "pdq-rotation", "pdq-region"):
        text += f" ({d['variant']})"
    if isinstance(lf, dict) and "found_area" in lf:
        text += (
            f"; {lf['inliers']} keypoints agree: found picture {_box(lf['found_area'])} "
            f"= bank photo {_box(lf['bank_area'])}"
        )
    return text


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def report_json(result: ScanResult) -> dict[str, Any]:
    return {
        "format": "rempart-scan-report",
        "version": 1,
        "scan_id": result.scan_id,
        "started_at": _iso(result.started_at),
        "finished_at": _iso(result.finished_at),
        "banks": list(result.banks),
        "summary": summary(result),
        "matches": [
            {
                "file": m.file,
                "bank": m.hit.bank,
                "bank_entry": m.hit.bank_entry,
                "case": m.hit.case,
                "signal": m.hit.signal,
                "distance": m.hit.distance,
                "transform": m.hit.transform,
                "pdq_quality": m.pdq_quality,
                "label": m.hit.label,
                "where": describe_where(m.hit) or None,
                "area": describe_area(m.hit) or None,
                "details": m.hit.details,
                "provenance": m.provenance or None,
                "synthetic": m.synthetic,
            }
            for m in result.matches
        ],
        # every scanned item with a synthetic-media signal, as `rempart inspect` lists them
        "synthetic": [
            {"file": file, "signals": findings} for file, findings in result.synthetic.items()
        ],
        "skipped": [
            {
                "file": s.file,
                "reason": s.reason,
                "detail": s.detail,
                **({"provenance": s.provenance} if s.provenance else {}),
            }
            for s in result.skipped
        ],
        "not_exported": [
            {"file": s.file, "detail": s.detail, "provenance": s.provenance}
            for s in result.not_exported
        ],
        "too_little_detail": list(result.low_quality),
        **(
            {
                "face_matches": [
                    {
                        "file": f.file,
                        "case": f.hit.case,
                        "template": f.hit.template_id,
                        "template_source": f.hit.template_source,
                        "distance": f.hit.distance,
                        "similarity": f.hit.similarity,
                        "box": list(f.hit.box),
                        "time": f.hit.time,
                    }
                    for f in result.face_matches
                ],
                "faces_not_compared": [
                    {"file": n.file, "box": list(n.box), "reason": n.status, "time": n.time}
                    for n in result.faces_not_compared
                ],
            }
            if result.faces_looked
            else {}
        ),
    }


def csv_rows(result: ScanResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for m in result.matches:
        rows.append(
            {
                "file": m.file,
                "status": "match",
                "bank": m.hit.bank,
                "bank_entry": m.hit.bank_entry,
                "case": m.hit.case,
                "signal": m.hit.signal,
                "distance": m.hit.distance,
                "transform": m.hit.transform,
                "where": describe_where(m.hit),
                **_provenance_columns(m.provenance),
                "score": (m.hit.details or {}).get("score", ""),
                "area": describe_area(m.hit),
                "synthetic": summary_text(m.synthetic),
            }
        )
    matched = {m.file for m in result.matches}
    for file, findings in result.synthetic.items():
        if file not in matched:
            rows.append(
                {"file": file, "status": "synthetic-signal", "synthetic": summary_text(findings)}
            )
    for f in result.face_matches:
        rows.append(
            {
                "file": f.file,
                "status": "face-match",
                "case": f.hit.case,
                "signal": "face",
                "bank_entry": f"template {f.hit.template_id}",
                "distance": f.hit.distance,
                "where": _face_where(f.hit.box, f.hit.time),
            }
        )
    for n in result.faces_not_compared:
        rows.append(
            {
                "file": n.file,
                "status": "face-not-compared",
                "reason": n.status,
                "where": _face_where(n.box, n.time),
            }
        )
    for s in result.skipped:
        rows.append(
            {
                "file": s.file,
                "status": "skipped",
                "reason": s.reason,
                "detail": s.detail,
                **_provenance_columns(s.provenance),
            }
        )
    for s in result.not_exported:
        rows.append(
            {
                "file": s.file,
                "status": "not-exported",
                "reason": s.reason,
                "detail": s.detail,
                **_provenance_columns(s.provenance),
            }
        )
    for low in result.low_quality:
        rows.append(
            {"file": low, "status": "too-little-detail", "reason": "too little detail to hash"}
        )
    return rows


def stored_result(db: Database, scan_id: int) -> ScanResult:
    """A finished scan's result as its report showed it, read back from the database
    (`rempart scan report`); an unknown or unfinished scan is a StoreError saying what to
    do."""
    with db.session() as s:
        run = s.get(ScanRun, scan_id)
        if run is None:
            raise StoreError(f"no scan {scan_id}")
        status, options, kept = run.status, dict(run.options or {}), dict(run.summary or {})
    if status != "finished":
        raise StoreError(
            f"scan {scan_id} is not finished: finish it with "
            f"`rempart scan --resume --scan-id {scan_id}`"
        )
    faces = bool(options.get("faces"))
    banks = options.get("banks_matched") or options.get("banks") or ()
    result = load_result(db, scan_id, banks=tuple(banks), faces_looked=faces)
    result.seconds = float(kept.get("seconds") or 0.0)
    result.from_cache = int(kept.get("known_content_reused") or 0)
    return result


def write_report(result: ScanResult, path: Path, fmt: str) -> None:
    """Write the report atomically in `fmt` (json or csv)."""
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "json":
        tmp.write_text(json.dumps(report_json(result), indent=2) + "\n", encoding="utf-8")
    elif fmt == "csv":
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, restval="")
            writer.writeheader()
            writer.writerows(csv_rows(result))
    else:
        raise ValueError(f"unknown report format {fmt!r} (json or csv)")
    tmp.replace(path)
