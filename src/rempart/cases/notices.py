"""Takedown notices, made from editable data files, and their tracking.

Data (src/rempart/data/notices/, or a copy in REMPART_HOME/notices/ that takes precedence,
so an organisation edits its own without touching the program): `laws.toml` (the rule each
jurisdiction's notices cite, in each language), `platforms.toml` (names, contacts, domains,
jurisdictions, language) and `templates/<language>.txt` (the letter, with $placeholders).

A notice lists the confirmed matches of a case found on one platform (where each was found,
its fingerprints, who confirmed it and when) and the victim's consent; never the images.
Tracking: sent, acknowledged, removed, refused, no-answer; a sent notice is due again every
24 hours until the content is removed or the platform refuses (as Project Arachnid does).
"""

from __future__ import annotations

import os
import string
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from rempart.cases.returns import place
from rempart.cases.review import ReviewItem, queue
from rempart.scan.synthetic import strong
from rempart.store import audit, repository
from rempart.store.db import Database
from rempart.store.models import Case, MatchOccurrence, Notice, ScanItem, utcnow
from rempart.store.repository import StoreError

STATUSES = ("draft", "sent", "acknowledged", "removed", "refused", "no-answer")
OPEN_STATUSES = ("sent", "acknowledged", "no-answer")
RENOTICE_HOURS = 24
ORGANISATION = "the helpline"  # the default: the organisation's name in the letter's language
PHRASES = (
    "organisation",
    "telegram",
    "forwarded",
    "link",
    "url",
    "item",
    "consent",
    "consent_named",
    "deadline",
    "method_exact",
    "method_pdq",
    "method_variant",
    "method_keypoints",
    "method_video",
    "method_face",
)


@dataclass(frozen=True)
class NoticeData:
    laws: dict[str, dict[str, Any]]
    platforms: dict[str, dict[str, Any]]
    folder: str
    hotlines: dict[str, dict[str, Any]]
    phrases: dict[str, dict[str, str]] = field(default_factory=dict)  # language -> phrases


def load_data(home: Path | None = None) -> NoticeData:
    """The notice data: REMPART_HOME/notices/ when it exists, else the bundled files.
    A malformed file is a StoreError naming it."""
    local = home / "notices" if home is not None else None
    if local is not None and (local / "laws.toml").exists():
        folder: Any = local
    else:
        folder = resources.files("rempart") / "data" / "notices"
    parsed: dict[str, dict[str, Any]] = {}
    for name in ("laws.toml", "platforms.toml", "hotlines.toml"):
        try:
            parsed[name] = tomllib.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{folder}/{name}: cannot read the notice data ({exc})") from exc
    bundled = resources.files("rempart") / "data" / "notices" / "phrases.toml"
    phrases_file = folder / "phrases.toml"
    if not phrases_file.is_file():  # an organisation's copy made before phrases.toml existed
        phrases_file = bundled
    try:
        phrases = tomllib.loads(phrases_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{phrases_file}: cannot read the notice data ({exc})") from exc
    return NoticeData(
        parsed["laws.toml"], parsed["platforms.toml"], str(folder), parsed["hotlines.toml"], phrases
    )


def _phrases(data: NoticeData, language: str) -> dict[str, str]:
    """The phrases of one language; StoreError when the language has none (a letter is
    never half in another language)."""
    words = data.phrases.get(language)
    missing = [k for k in PHRASES if not isinstance((words or {}).get(k), str)]
    if missing:
        raise StoreError(
            f"{data.folder}/phrases.toml: no [{language}] phrases for "
            f"{', '.join(missing)}: a notice in {language!r} needs them"
        )
    assert words is not None
    return words


def _say(words: dict[str, str], key: str, **values: object) -> str:
    return string.Template(words[key]).safe_substitute(
        {k: "?" if v is None or v == "" else str(v) for k, v in values.items()}
    )


def _method(kind: str) -> str:
    """Which phrase names how a match was made (never a raw distance: a keypoint match's
    number is agreeing keypoints, not a hash distance)."""
    if kind in ("sha256", "md5"):
        return "method_exact"
    if kind == "local-features":
        return "method_keypoints"
    if kind.startswith("vpdq") or kind == "video":
        return "method_video"
    if kind == "face":
        return "method_face"
    return "method_variant" if kind.startswith("pdq-") else "method_pdq"


def _template(data: NoticeData, language: str) -> string.Template:
    path = Path(data.folder) / "templates" / f"{language}.txt"
    bundled = resources.files("rempart") / "data" / "notices" / "templates" / f"{language}.txt"
    for candidate in (path, bundled):
        try:
            return string.Template(candidate.read_text(encoding="utf-8"))
        except OSError:
            continue
    raise StoreError(
        f"no notice template in language {language!r} "
        f"(add templates/{language}.txt to {data.folder})"
    )


def platform_of(item: ReviewItem, data: NoticeData) -> str | None:
    """Which platform (a key of platforms.toml) a match was first found on, if known."""
    return platform_of_provenance(item.provenance, data)


def platform_of_provenance(prov: dict[str, Any], data: NoticeData) -> str | None:
    """Which platform (a key of platforms.toml) a copy with this provenance is on."""
    host = ""
    if prov.get("source") == "url":
        host = (urlsplit(str(prov.get("final_url") or prov.get("url"))).hostname or "").lower()
    for key, p in data.platforms.items():
        if prov.get("source") in p.get("sources", []):
            return key
        if host and any(host == d or host.endswith("." + d) for d in p.get("domains", [])):
            return key
    return None


def message_link(prov: dict[str, Any]) -> str | None:
    """The t.me link of a Telegram message in a supergroup or channel (what the platform
    needs to find it), when the export says enough."""
    chat_id, message = str(prov.get("chat_id") or ""), str(prov.get("message_id") or "")
    kind = str(prov.get("chat_type") or "")
    if chat_id.isdigit() and message.isdigit() and ("supergroup" in kind or "channel" in kind):
        return f"https://t.me/c/{chat_id}/{message}"
    return None


def _location(p: dict[str, Any], words: dict[str, str]) -> str:
    """Where the platform finds a copy: its chat and message, or its address; never a
    local path (a notice lists only copies found on the platform)."""
    if p.get("source") == "telegram":
        text = _say(
            words,
            "telegram",
            chat=p.get("chat"),
            chat_id=p.get("chat_id"),
            message_id=p.get("message_id"),
            date=p.get("date"),
            sender=p.get("from"),
        )
        if p.get("forwarded_from"):
            text += _say(words, "forwarded", forwarded_from=p.get("forwarded_from"))
        link = message_link(p)
        return text + (_say(words, "link", link=link) if link else "")
    if p.get("source") == "url":
        return _say(words, "url", url=p.get("url"), fetched_at=p.get("fetched_at"))
    return "?"


@dataclass(frozen=True)
class _Entry:
    """One copy to remove: a match and one place it was seen on the platform."""

    item: ReviewItem
    provenance: dict[str, Any]
    locator: str
    place: str


def _sightings(db: Database, refs: list[str]) -> dict[str, list[tuple[dict[str, Any], str]]]:
    """Every sighting (provenance, locator) of these hash matches, oldest first."""
    ids = [int(r[1:]) for r in refs if r.startswith("m") and r[1:].isdigit()]
    out: dict[str, list[tuple[dict[str, Any], str]]] = {}
    if not ids:
        return out
    with db.session() as s:
        rows = s.execute(
            select(MatchOccurrence.match_id, ScanItem.provenance, ScanItem.locator)
            .join(ScanItem, MatchOccurrence.scan_item_id == ScanItem.id)
            .where(MatchOccurrence.match_id.in_(ids))
            .order_by(MatchOccurrence.id)
        ).all()
    for match_id, prov, locator in rows:
        out.setdefault(f"m{match_id}", []).append((prov or {}, locator))
    return out


def sightings(db: Database, refs: list[str]) -> dict[str, list[tuple[dict[str, Any], str]]]:
    """Every sighting (provenance, locator) of these hash matches, oldest first."""
    return _sightings(db, refs)


def platforms_of(db: Database, items: list[ReviewItem], data: NoticeData) -> dict[str, list[str]]:
    """Match reference -> the platforms (keys of platforms.toml) it was seen on, at any
    sighting, in order."""
    seen = _sightings(db, [i.ref for i in items])
    out: dict[str, list[str]] = {}
    for i in items:
        keys = out.setdefault(i.ref, [])
        for prov, _ in seen.get(i.ref) or [(i.provenance, i.file)]:
            key = platform_of_provenance(prov, data)
            if key is not None and key not in keys:
                keys.append(key)
    return out


def _removed_places(db: Database, case_number: str) -> set[str]:
    """The places of copies this case's notices got removed."""
    with db.session() as s:
        q = (
            select(Notice.items)
            .join(Case, Notice.case_id == Case.id)
            .where(Case.number == case_number, Notice.status == "removed")
        )
        return {str(i["place"]) for items in s.scalars(q) for i in items if i.get("place")}


def _entries(
    db: Database, items: list[ReviewItem], platform: str, data: NoticeData, case_number: str
) -> list[_Entry]:
    """The copies on the platform of these matches: every place each was seen there (its
    first sighting and later ones), less places already removed (unless nothing else)."""
    seen = _sightings(db, [i.ref for i in items])
    removed = _removed_places(db, case_number)
    out: list[_Entry] = []
    for i in items:
        mine: list[_Entry] = []
        for prov, locator in seen.get(i.ref) or [(i.provenance, i.file)]:
            key = place(prov, locator)
            if platform_of_provenance(prov, data) == platform and key not in {
                e.place for e in mine
            }:
                mine.append(_Entry(i, prov, locator, key))
        out += [e for e in mine if e.place not in removed] or mine
    return out


AI_PHRASES = ("ai_stated", "ai_generated", "ai_modified", "ai_evidence")


def ai_statement(item: ReviewItem, words: dict[str, str]) -> str:
    """The sentence "generated or altered with AI, evidence: ..." for a match with a strong
    synthetic-media signal ("" when it has none: weak and fragile signals are never stated);
    StoreError when the language's phrases lack it (an organisation's older copy)."""
    found = [f for f in strong(item.synthetic) if f.get("indicates") in AI_INDICATES]
    if not found:
        return ""
    missing = [k for k in AI_PHRASES if not isinstance(words.get(k), str)]
    if missing:
        raise StoreError(f"phrases.toml: no phrases {', '.join(missing)} to state AI signals")
    evidence = "; ".join(
        _say(
            words,
            "ai_evidence",
            type=words.get("ai_type_" + str(f.get("type")).replace("-", "_"), f.get("type")),
            indicates=words[AI_INDICATES[str(f.get("indicates"))]],
        )
        for f in found
    )
    return _say(words, "ai_stated", evidence=evidence)


AI_INDICATES = {"ai-generated": "ai_generated", "ai-modified": "ai_modified"}


def _item_lines(
    entries: list[_Entry], words: dict[str, str], organisation: str, state_ai: bool = False
) -> str:
    lines = []
    for n, e in enumerate(entries, 1):
        lines.append(
            _say(
                words,
                "item",
                n=n,
                location=_location(e.provenance, words),
                ref=e.item.ref,
                method=words[_method(e.item.kind)],
                organisation=organisation,
                date=(e.item.reviewed_at or "")[:10],
            )
            + (ai_statement(e.item, words) if state_ai else "")
        )
    return "\n".join(lines)


def create(
    db: Database,
    home: Path,
    case_number: str,
    platform: str,
    *,
    language: str | None = None,
    refs: list[str] | None = None,
    organisation: str = ORGANISATION,
    name_her: bool = False,
    state_ai: bool = False,
) -> Notice:
    """Write a notice to one platform: only the case's confirmed matches found on that
    platform (its messages or addresses), in the name of the organisation (never the
    victim's name unless she chose it: `name_her`, or her consent record's
    `"name_in_notices": true`; never a local path or an account name), every word from
    the language's template and phrases. `state_ai` (the caseworker ticks it): each match
    with a strong synthetic-media signal says "generated or altered with AI, evidence: ..."."""
    data = load_data(home)
    if platform not in data.platforms:
        raise StoreError(
            f"no platform {platform!r} in {data.folder}/platforms.toml "
            f"(known: {', '.join(sorted(data.platforms))})"
        )
    pdata = data.platforms[platform]
    lang = language or pdata.get("language", "en")
    template = _template(data, lang)
    words = _phrases(data, lang)
    if not organisation.strip() or organisation == ORGANISATION:
        organisation = os.environ.get("REMPART_ORGANISATION", "").strip() or words["organisation"]
    confirmed = queue(db, case=case_number, status="confirmed")
    if refs:
        items = [i for i in confirmed if i.ref in refs]
        missing = set(refs) - {i.ref for i in items}
        if missing:
            raise StoreError(
                f"not confirmed matches of case {case_number}: {', '.join(sorted(missing))}"
            )
        on_platform = {e.item.ref for e in _entries(db, items, platform, data, case_number)}
        elsewhere = [i.ref for i in items if i.ref not in on_platform]
        if elsewhere:
            raise StoreError(
                f"not found on {pdata.get('name', platform)}: "
                f"{', '.join(elsewhere)} (a notice lists only what is on its "
                "platform)"
            )
    else:
        items = confirmed
    entries = _entries(db, items, platform, data, case_number)
    items = [i for i in items if any(e.item.ref == i.ref for e in entries)]
    if not items:
        raise StoreError(
            f"case {case_number} has no confirmed match on {pdata.get('name')}: "
            "nothing is sent on an unreviewed match"
        )
    laws = []
    deadline = 0
    for j in pdata.get("jurisdictions", []):
        law = data.laws.get(j)
        if law is None or lang not in law:
            raise StoreError(f"{data.folder}/laws.toml: no text for {j!r} in {lang!r}")
        laws.append(f"- {law.get(f'name_{lang}') or law.get('name', j)}: {law[lang]}")
        deadline = max(deadline, int(law.get("deadline_hours", 0)))
    with db.session() as s:
        case = repository.get_case(s, case_number)
        if case is None:
            raise StoreError(f"no case {case_number}")
        consent = repository.active_consent(s, case)
        if consent is None:
            raise StoreError(
                f"case {case_number} has no active consent record: no notice "
                "can be sent on her behalf"
            )
        notice = Notice(
            case_id=case.id,
            platform=platform,
            language=lang,
            jurisdictions=list(pdata.get("jurisdictions", [])),
            items=[
                {
                    "match": e.item.ref,
                    "location": _location(e.provenance, words),
                    "place": e.place,
                    "file": e.locator,
                    "possible_minor": e.item.possible_minor,
                }
                for e in entries
            ],
            text="",
            status="draft",
        )
        s.add(notice)
        s.flush()
        named = name_her or (consent.document or {}).get("name_in_notices") is True
        consent_text = _say(
            words,
            "consent_named" if named else "consent",
            name=consent.given_by,
            date=f"{consent.given_at:%Y-%m-%d}",
        )
        deadline_text = _say(words, "deadline", hours=deadline) if deadline else ""
        notice.text = template.safe_substitute(
            platform=pdata.get("name", platform),
            contact=pdata.get("contact", ""),
            case=case_number,
            organisation=organisation,
            laws="\n".join(laws),
            count=len(entries),
            items=_item_lines(entries, words, organisation, state_ai),
            consent=consent_text,
            notice_id=f"N-{notice.id}",
            deadline=deadline_text,
        )
        audit.record(
            s,
            "notice-create",
            case=case_number,
            details={
                "notice": notice.id,
                "platform": platform,
                "language": lang,
                "matches": [i.ref for i in items],
                "names_her": named,
            },
        )
        s.flush()
        s.expunge(notice)
    return notice


def mark(
    db: Database,
    notice_id: int,
    status: str,
    *,
    at: datetime | None = None,
    verified_by: str | None = None,
) -> Notice:
    """Record what happened to a notice (sent, acknowledged, removed, refused, no-answer).
    `verified_by`: how a removal was verified ("fetch": rempart.cases.removal_check saw
    every place gone); a removal marked by hand is not verified."""
    if status not in STATUSES[1:]:
        raise StoreError(f"status must be one of {', '.join(STATUSES[1:])}")
    when = at or utcnow()
    with db.session() as s:
        n = s.get(Notice, notice_id)
        if n is None:
            raise StoreError(f"no notice N-{notice_id}")
        if n.status in ("removed", "refused") and status == "sent":
            raise StoreError(f"notice N-{notice_id} is {n.status}: nothing to send again")
        if status == "sent":
            n.times_sent += 1
            n.sent_at = n.sent_at or when
            n.next_notice_at = when + timedelta(hours=RENOTICE_HOURS)
        if status == "removed":
            n.removed_at = when
            n.next_notice_at = None
            n.removal_verified = verified_by is not None
        if status == "refused":
            n.next_notice_at = None
        before = n.status
        n.status, n.status_at = status, when
        case_number = repository.case_number(s, n.case_id)
        audit.record(
            s,
            "notice-status",
            case=case_number,
            details={
                "notice": notice_id,
                "from": before,
                "to": status,
                "at": when.isoformat(timespec="seconds"),
                **({"verified_by": verified_by} if verified_by else {}),
            },
        )
        s.flush()
        s.expunge(n)
    return n


def due(db: Database, now: datetime | None = None) -> list[Notice]:
    """Notices to send again: sent (or unanswered) more than 24 h ago and not removed."""
    when = now or utcnow()
    with db.session() as s:
        rows = list(
            s.scalars(
                select(Notice).where(
                    Notice.status.in_(OPEN_STATUSES), Notice.next_notice_at.is_not(None)
                )
            )
        )
        for n in rows:
            s.expunge(n)
    return [n for n in rows if _aware(n.next_notice_at) <= when]  # type: ignore[arg-type]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def removal_times(
    db: Database, cases: list[str] | None = None, *, verified: bool | None = None
) -> dict[str, list[float]]:
    """Hours from first sending to removal, per platform (of these cases' notices only, when
    `cases` is given; only removals verified by fetching, or only those marked by hand,
    when `verified` is True or False)."""
    out: dict[str, list[float]] = {}
    with db.session() as s:
        q = select(Notice).where(Notice.removed_at.is_not(None), Notice.sent_at.is_not(None))
        if verified is not None:
            q = q.where(Notice.removal_verified.is_(verified))
        if cases is not None:
            q = q.join(Case, Notice.case_id == Case.id).where(Case.number.in_(cases))
        for n in s.scalars(q):
            assert n.removed_at is not None and n.sent_at is not None
            hours = (_aware(n.removed_at) - _aware(n.sent_at)).total_seconds() / 3600
            out.setdefault(n.platform, []).append(hours)
    return out


def all_notices(db: Database, case_number: str | None = None) -> list[Notice]:
    with db.session() as s:
        q = select(Notice).order_by(Notice.id)
        if case_number:
            case = repository.get_case(s, case_number)
            q = q.where(Notice.case_id == (case.id if case else -1))
        rows = list(s.scalars(q))
        for n in rows:
            s.expunge(n)
    return rows


def as_dict(n: Notice) -> dict[str, Any]:
    return {
        "notice": f"N-{n.id}",
        "platform": n.platform,
        "language": n.language,
        "jurisdictions": n.jurisdictions,
        "items": n.items,
        "status": n.status,
        "created_at": n.created_at,
        "sent_at": n.sent_at,
        "times_sent": n.times_sent,
        "next_notice_at": n.next_notice_at,
        "removed_at": n.removed_at,
        "removal_verified": n.removal_verified,
    }


def hotlines_for(notice: Notice, data: NoticeData) -> list[dict[str, Any]]:
    """The child-protection bodies to report to when a notice's items may show a minor."""
    if not any(i.get("possible_minor") for i in notice.items):
        return []
    wanted = set(notice.jurisdictions)
    return [h for h in data.hotlines.values() if wanted & set(h.get("jurisdictions", []))]
