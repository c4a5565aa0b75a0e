"""The review queue's listing: which matches wait for a decision (or have a given one).

Why a module of its own, without SQLAlchemy: `rempart review list` must start in well
under half a second (issue 19), and importing SQLAlchemy and the models costs more than
that on a loaded machine. `queue` is the one listing the CLI, the web UI, notices and
evidence use (`rempart.cases.review` re-exports it with `ReviewItem` and `get`); its two
queries are SQL text run through a `rempart.store.light.Reader`: Python's sqlite3 for the
command line on an up-to-date SQLite file, the SQLAlchemy `Database` everywhere else
(PostgreSQL, the servers). tests/cli/test_light_listings.py checks the answers equal the
ORM's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from rempart.scan.synthetic import match_findings
from rempart.store.errors import StoreError
from rempart.store.light import Reader, Row, json_value, timestamp

# The largest id a database keeps (64-bit): a bigger number names no match.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class ReviewItem:
    ref: str  # m12 or f3
    status: str
    case: str | None
    file: str
    kind: str  # signal (sha256, md5, pdq, vpdq) or face
    distance: float
    details: dict[str, Any]
    provenance: dict[str, Any]
    reviewed_by: str | None
    reason: str | None
    possible_minor: bool = False
    reviewed_at: str | None = None  # ISO 8601, UTC
    sightings: int = 1  # how often this content was found (scans, places): reviewed once
    first_seen: str | None = None  # ISO 8601, UTC: its first sighting
    last_seen: str | None = None  # and its latest
    transform: str | None = None  # how the found picture was turned to match (mirrored...)
    threshold: int | None = None  # the bank's PDQ threshold: where matches start
    # synthetic-media signals (Finding JSON: the found item's, then the match's derivation;
    # [] none found). Evidence, never a verdict (scan/synthetic.py)
    synthetic: list[dict[str, Any]] = field(default_factory=list)

    @property
    def keypoints(self) -> int | None:
        """A keypoint match's agreeing keypoints (its `distance` is no hash distance)."""
        if self.kind != "local-features":
            return None
        lf = self.details.get("local_features") or {}
        inliers = lf.get("inliers") if isinstance(lf, dict) else None
        return int(inliers) if isinstance(inliers, int | float) else None

    @property
    def measure(self) -> str:
        """How close, for people: "57 agreeing keypoints", or "distance 12"."""
        if self.kind == "local-features":
            n = self.keypoints
            return f"{n if n is not None else '?'} agreeing keypoints"
        return f"distance {self.distance:g}"


def split_ref(ref: str) -> tuple[str, int]:
    """A match reference's kind ("m": hash or video match, "f": face match) and number;
    StoreError when it is none."""
    if not ref or ref[0] not in "mf" or not ref[1:].isdigit():
        raise StoreError(f"{ref!r} is not a match reference (m<number> or f<number>)")
    return ref[0], int(ref[1:])


# Hash and video matches: the found item, the bank entry's case and bank, the sightings.
_MATCHES = (
    "SELECT m.id, m.review_status, c.number, s.locator, m.signal_type, m.distance, b.name,"
    " m.details, s.provenance, m.reviewed_by, m.review_reason, m.possible_minor,"
    " m.reviewed_at,"
    " (SELECT count(*) FROM match_occurrences o WHERE o.match_id = m.id) AS seen,"
    " (SELECT min(o.seen_at) FROM match_occurrences o WHERE o.match_id = m.id) AS first,"
    " (SELECT max(o.seen_at) FROM match_occurrences o WHERE o.match_id = m.id) AS last,"
    " m.transform, b.pdq_threshold, s.synthetic"
    " FROM matches m"
    " JOIN scan_items s ON m.scan_item_id = s.id"
    " JOIN bank_items i ON m.bank_item_id = i.id"
    " JOIN banks b ON i.bank_id = b.id"
    " LEFT OUTER JOIN cases c ON i.case_id = c.id"
)
# Face matches: the found item, the enrolled template's case, the sightings.
_FACE_MATCHES = (
    "SELECT f.id, f.review_status, c.number, s.locator, f.distance, f.box, f.time,"
    " s.provenance, f.reviewed_by, f.review_reason, f.possible_minor, f.reviewed_at,"
    " (SELECT count(*) FROM face_match_occurrences o WHERE o.face_match_id = f.id) AS seen,"
    " (SELECT min(o.seen_at) FROM face_match_occurrences o WHERE o.face_match_id = f.id)"
    " AS first,"
    " (SELECT max(o.seen_at) FROM face_match_occurrences o WHERE o.face_match_id = f.id)"
    " AS last"
    " FROM face_matches f"
    " JOIN scan_items s ON f.scan_item_id = s.id"
    " JOIN face_templates t ON f.template_id = t.id"
    " JOIN cases c ON t.case_id = c.id"
)


SORTS = ("found", "newest", "oldest", "closest", "sightings")
# ORDER BY of each sort (fixed text): newest by latest sighting, oldest by first sighting,
# closest by score (a keypoint match's distance is its normalised score: lower is closer
# too), most sightings first; ties in the order they were found.
_ORDER = {
    "found": "{a}.id",
    "newest": "last DESC, {a}.id",
    "oldest": "first, {a}.id",
    "closest": "{a}.distance, {a}.id",
    "sightings": "seen DESC, {a}.id",
}


@dataclass(frozen=True)
class Filters:
    """What the queue shows (the web page's GET parameters, `review list`'s options): all
    applied in the queries' WHERE, never over the whole table in Python."""

    method: str | None = None  # a signal type (sha256, pdq, pdq-crop, vpdq, ...) or face
    source: str | None = None  # a room, folder, archive or address: part of where it was found
    since: str | None = None  # YYYY-MM-DD: seen on or after this day (UTC)
    until: str | None = None  # YYYY-MM-DD: seen on or before this day (UTC)
    minor: bool = False  # only matches flagged as possibly showing a minor
    sort: str = "found"


def _day(value: str | None, name: str, after: bool = False) -> str | None:
    """A day as the timestamp text both databases compare (the next day's start for an
    inclusive end); StoreError naming the bad value."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise StoreError(f"{name} must be a day like 2026-03-01, not {value!r}") from exc
    if after:
        day += timedelta(days=1)
    return f"{day.isoformat()} 00:00:00"


def _like(value: str) -> str:
    """A LIKE pattern finding `value` anywhere (its % and _ taken literally, escape !)."""
    escaped = _ascii_lower(value).replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _ascii_lower(value: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in value)


def _source_patterns(value: str) -> list[str]:
    """LIKE patterns for part of a place's name, in any case, compared with SQL's lower():
    SQLite's (and PostgreSQL's under the C locale) lowercases ASCII only, so "élodie" must
    also be tried as "Élodie"; provenance is JSON text, where non-ASCII may be escaped
    (\u00c9), so each spelling is tried escaped too. No accent folding."""
    spellings = dict.fromkeys(_ascii_lower(v) for v in (value, value.lower(), value.upper()))
    patterns = dict.fromkeys(_like(v) for v in spellings)
    patterns.update(dict.fromkeys(_like(json.dumps(v)[1:-1]) for v in spellings))
    return list(patterns)


def _where(
    alias: str,
    case: str | None,
    status: str | None,
    match_id: int | None,
    f: Filters = Filters(),
) -> tuple[str, dict[str, Any]]:
    """The filters and their order (fixed SQL text; the values are bound parameters)."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if case:
        conditions.append("c.number = :case")
        params["case"] = case
    if status:
        conditions.append(f"{alias}.review_status = :status")
        params["status"] = status
    if match_id is not None:
        conditions.append(f"{alias}.id = :id")
        params["id"] = match_id
    if f.method:
        if alias == "f":
            conditions.append("'face' = :method")
        else:
            conditions.append("m.signal_type = :method")
        params["method"] = f.method
    table, key = (
        ("match_occurrences", "match_id")
        if alias == "m"
        else ("face_match_occurrences", "face_match_id")
    )
    if f.source and f.source.strip():
        # where any sighting was found: its locator (folder, archive member, address) or its
        # provenance (room, sender...), in each spelling _source_patterns gives
        tests: list[str] = []
        for n, pattern in enumerate(_source_patterns(f.source.strip())):
            params[f"src{n}"] = pattern
            tests.append(
                f"lower(si.locator) LIKE :src{n} ESCAPE '!'"
                f" OR lower(CAST(si.provenance AS TEXT)) LIKE :src{n} ESCAPE '!'"
            )
        conditions.append(
            f"EXISTS (SELECT 1 FROM {table} so JOIN scan_items si ON si.id = so.scan_item_id"
            f" WHERE so.{key} = {alias}.id AND ({' OR '.join(tests)}))"
        )
    since, until = _day(f.since, "--since"), _day(f.until, "--until", after=True)
    if since or until:
        seen = [f"o.{key} = {alias}.id"]
        if since:
            seen.append("o.seen_at >= :since")
            params["since"] = since
        if until:
            seen.append("o.seen_at < :until")
            params["until"] = until
        conditions.append(f"EXISTS (SELECT 1 FROM {table} o WHERE {' AND '.join(seen)})")
    if f.minor:
        conditions.append(f"{alias}.possible_minor = :minor")
        params["minor"] = True
    if f.sort not in _ORDER:
        raise StoreError(f"sort must be one of {', '.join(SORTS)}, not {f.sort!r}")
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    return f"{where} ORDER BY {_ORDER[f.sort].format(a=alias)}", params


def _sort_key(sort: str) -> Any:
    """The same order as the SQL's, to merge the two queries' sorted answers."""
    if sort == "newest":
        return lambda i: (i.possible_minor is False, _neg(i.last_seen))
    if sort == "oldest":
        return lambda i: (i.possible_minor is False, i.first_seen or "")
    if sort == "closest":
        return lambda i: (i.possible_minor is False, i.distance)
    if sort == "sightings":
        return lambda i: (i.possible_minor is False, -i.sightings)
    return lambda i: not i.possible_minor


def _neg(text: str | None) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in (text or ""))


def queue(
    db: Reader,
    *,
    case: str | None = None,
    status: str | None = "pending",
    ref: str | None = None,
    filters: Filters | None = None,
) -> list[ReviewItem]:
    """Matches with the given review status (all when None), of one case or all, or the one
    match `ref` names; possible minors first, then hash/video matches and face matches in
    the order they were found (or in `filters.sort`'s order); `filters` narrow it in SQL."""
    f = filters or Filters()
    kind, number = split_ref(ref) if ref else ("", 0)
    if number > MAX_ID:
        number = -1  # names no match (and no database integer overflows)
    m_id = (number if kind == "m" else -1) if ref else None
    f_id = (number if kind == "f" else -1) if ref else None
    m_where, m_params = _where("m", case, status, m_id, f)
    f_where, f_params = _where("f", case, status, f_id, f)
    matches, faces = db.read((_MATCHES + m_where, m_params), (_FACE_MATCHES + f_where, f_params))
    backend = db.backend
    out = [_match_item(row, backend) for row in matches]
    out += [_face_item(row, backend) for row in faces]
    return sorted(out, key=_sort_key(f.sort))  # possible minors first (stable sort)


def _match_item(row: Row, backend: str) -> ReviewItem:
    (
        match_id,
        status,
        case_number,
        locator,
        signal_type,
        distance,
        bank,
        details,
        provenance,
        reviewed_by,
        reason,
        minor,
        reviewed_at,
        sightings,
        first,
        last,
        transform,
        threshold,
        synthetic,
    ) = row
    details_value = json_value(details, backend) or {}
    return ReviewItem(
        f"m{match_id}",
        status,
        case_number,
        locator,
        signal_type,
        float(distance),
        {"bank": bank, **details_value},
        json_value(provenance, backend) or {},
        reviewed_by,
        reason,
        bool(minor),
        _iso(timestamp(reviewed_at)),
        max(1, int(sightings or 0)),
        _iso(timestamp(first)),
        _iso(timestamp(last)),
        transform,
        None if threshold is None else int(threshold),
        match_findings(json_value(synthetic, backend), details_value),
    )


def _face_item(row: Row, backend: str) -> ReviewItem:
    (
        face_id,
        status,
        case_number,
        locator,
        distance,
        box,
        time,
        provenance,
        reviewed_by,
        reason,
        minor,
        reviewed_at,
        sightings,
        first,
        last,
    ) = row
    return ReviewItem(
        f"f{face_id}",
        status,
        case_number,
        locator,
        "face",
        float(distance),
        {"box": json_value(box, backend), "time": time},
        json_value(provenance, backend) or {},
        reviewed_by,
        reason,
        bool(minor),
        _iso(timestamp(reviewed_at)),
        max(1, int(sightings or 0)),
        _iso(timestamp(first)),
        _iso(timestamp(last)),
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at is not None else None


def get(db: Reader, ref: str) -> ReviewItem:
    """One match, whatever its review status; StoreError when there is none."""
    split_ref(ref)
    found = queue(db, status=None, ref=ref)
    if not found:
        raise StoreError(f"no match {ref} (see `rempart review list --status all`)")
    return found[0]
