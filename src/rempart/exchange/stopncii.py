"""StopNCII.org hash records (the shape of its FetchHashes API, as python-threatexchange's
`StopNCIIHashRecord` and `FetchHashesResponse` read it).

A record: `lastModtimestamp` (Unix seconds), `signalType` (`ImagePDQ`, `VideoMD5`;
`VideoTMK`, `Text`, `URL` are not hashes Rempart matches), `hashValue`, `hashStatus`
(`Received`, `Active`, `Withdrawn`, `Deleted`), `caseNumbers` (StopNCII case number ->
status) and `CSPFeedbacks` (platforms' feedback: `feedbackValue`, `tags`, `source`).

A record whose `hashStatus` is `Withdrawn` or `Deleted` (or whose cases are all withdrawn
or deleted) removes the hash: the person who submitted it withdrew it. (Meta's StopNCII
adapter in python-threatexchange compares `hashValue`, not `hashStatus`, against these
statuses, so it never removes anything.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rempart.exchange.consent import FormatError
from rempart.exchange.list_model import (
    HEX_LENGTH,
    ExportSet,
    ParsedList,
    clean_hex,
    image_item,
    load_json,
    video_item,
    write_atomic,
)
from rempart.signals.types import MD5, PDQ, REGISTRY
from rempart.store.models import utcnow

# StopNCII's signal types (its enum); those Rempart matches are the registry's
# (signals/types.py: ImagePDQ is pdq, VideoMD5 is md5).
SIGNAL_TYPES = ("Unknown", "ImagePDQ", "VideoMD5", "VideoTMK", "Text", "URL")
OURS = {name: t.name for name, t in REGISTRY.in_list("stopncii").items()}
IMAGE_PDQ = PDQ.list_names["stopncii"]
VIDEO_MD5 = MD5.list_names["stopncii"]
STATUSES = ("Unknown", "Received", "Active", "Withdrawn", "Deleted")
GONE = ("Withdrawn", "Deleted")
_STATUS_SET = frozenset(STATUSES)
FEEDBACK = (
    "Unknown",
    "None",
    "QualityUnknown",
    "PendingReview",
    "Blocked",
    "NotBlocked",
    "Withdrawn",
    "Deleted",
)


_SIGNAL_SET = frozenset(SIGNAL_TYPES)
_GONE_SET = frozenset(GONE)
_MAX_TIMESTAMP = 2**63

# A list of a million records is checked a record at a time: set tests and exact type
# tests (JSON gives exact types) instead of generators and tuple scans (4 s of a million).


def _statuses(cases: dict[Any, Any]) -> bool:
    """Every key a case number (text), every value a status."""
    try:
        if not _STATUS_SET.issuperset(cases.values()):
            return False
    except TypeError:  # an unhashable value (a list, an object): not a status
        return False
    for key in cases:
        if type(key) is not str:
            return False
    return True


def _check_record(raw: Any) -> str | None:
    """What is wrong with a record's shape, or None."""
    if not isinstance(raw, dict):
        return "a record must be a JSON object"
    ts = raw.get("lastModtimestamp", 0)
    if type(ts) is not int or not 0 <= ts < _MAX_TIMESTAMP:  # (a bool is not an int here)
        return "'lastModtimestamp' must be a whole number of seconds"
    kind = raw.get("signalType")
    if type(kind) is not str or kind not in _SIGNAL_SET:
        return f"unknown signalType {str(kind)[:40]!r}"
    if not isinstance(raw.get("hashValue"), str):
        return "'hashValue' must be text"
    status = raw.get("hashStatus")
    if type(status) is not str or status not in _STATUS_SET:
        return f"unknown hashStatus {str(status)[:40]!r}"
    cases = raw.get("caseNumbers", {})
    if type(cases) is list and not cases:  # StopNCII sends an empty mapping as []
        cases = {}  # (python-threatexchange too)
    if not isinstance(cases, dict) or not _statuses(cases):
        return "'caseNumbers' must map case numbers to statuses"
    feedbacks = raw.get("CSPFeedbacks", [])
    if type(feedbacks) is list and not feedbacks:
        return None
    if not isinstance(feedbacks, list) or not all(
        isinstance(f, dict)
        and f.get("feedbackValue") in FEEDBACK
        and isinstance(f.get("tags", []), list)
        and isinstance(f.get("source", ""), str)
        for f in feedbacks
    ):
        return "'CSPFeedbacks' must be a list of {feedbackValue, tags, source}"
    return None


def is_withdrawn(raw: dict[str, Any]) -> bool:
    """Withdrawn by whoever submitted it: the aggregate status says so, or every case
    linked to the hash is withdrawn or deleted (a record `_check_record` passed). In
    doubt, a hash is removed, not kept."""
    if raw["hashStatus"] in _GONE_SET:
        return True
    cases = raw.get("caseNumbers") or {}
    return bool(cases) and _GONE_SET.issuperset(cases.values())


def parse(data: Any, source: str) -> ParsedList:
    parsed = ParsedList(source=source, format="stopncii")
    if isinstance(data, dict) and "hashRecords" in data:
        records = data["hashRecords"]
    elif isinstance(data, list):
        records = data
    else:
        raise FormatError(
            f"{source}: not StopNCII records (an object with 'hashRecords', or a list of records)"
        )
    if not isinstance(records, list):
        raise FormatError(f"{source}: 'hashRecords' must be a list")
    return parse_records(parsed, records)


def parse_records(parsed: ParsedList, records: Iterable[Any]) -> ParsedList:
    """Each record, in order (a list, or a stream of them)."""
    for number, raw in enumerate(records, 1):
        parsed.records += 1
        wrong = _check_record(raw)
        if wrong is not None:
            parsed.problem(number, wrong)
            continue
        kind = raw["signalType"]
        ours = OURS.get(kind)
        if ours is None:
            parsed.problem(number, f"signalType {kind} is not a hash Rempart matches: skipped")
            continue
        value = clean_hex(raw["hashValue"], ours)
        if value is None:
            parsed.problem(
                number,
                f"'hashValue' is not a valid {kind} hash ({HEX_LENGTH[ours]} hex characters)",
            )
            continue
        if is_withdrawn(raw):
            parsed.add_withdrawal(number, ours, value)
        elif raw["hashStatus"] == "Unknown":
            parsed.problem(number, "hashStatus Unknown: not imported")
        elif ours == PDQ.name:
            parsed.add_item(number, image_item(value))
        else:
            parsed.add_item(number, video_item(md5=value))
    return parsed


def read(path: Path) -> ParsedList:
    return parse(load_json(path), str(path))


def records(export: ExportSet) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for e in export.items:
        ts = int(e.created_at.timestamp())
        case = {export.case_ref(e.case_number): "Active"}
        if e.item.media_type == "image" and e.item.pdq:
            out.append(
                {
                    "lastModtimestamp": ts,
                    "signalType": IMAGE_PDQ,
                    "hashValue": e.item.pdq,
                    "hashStatus": "Active",
                    "caseNumbers": case,
                    "CSPFeedbacks": [],
                }
            )
        elif e.item.media_type == "video" and e.item.md5:
            out.append(
                {
                    "lastModtimestamp": ts,
                    "signalType": VIDEO_MD5,
                    "hashValue": e.item.md5,
                    "hashStatus": "Active",
                    "caseNumbers": case,
                    "CSPFeedbacks": [],
                }
            )
    return out


def write(export: ExportSet, path: Path) -> int:
    recs = records(export)
    doc = {
        "count": len(recs),
        "nextPageToken": None,
        "nextSetTimestamp": int(utcnow().timestamp()),
        "hasMoreRecords": False,
        "hashRecords": recs,
    }
    write_atomic(path, json.dumps(doc, indent=2) + "\n")
    return len(recs)
