"""Removal verified by fetching (issue 16 item 4): is what a notice named still up?

Why: a notice's removal was recorded by hand; a helpline needs proof, and Project Arachnid
re-checks and re-notices every 24 hours until the content is gone. For each place a notice
names that has an address (a URL copy's address; a Telegram message's t.me link), the
place is fetched through the SSRF-safe fetcher (rempart.sources.urls.fetch_answer: never a
private address, every redirect re-checked, a redirect loop cut, timeouts, a size cap) at
most once per PACE_S seconds per host, and what was seen is recorded:

- up: the same content (the response's picture, or the post's picture named by the page,
  hashed as a scan does: exact digests, then PDQ within the bank's threshold);
- gone: HTTP 404 or 410, or the platform's removal page (data/removal_pages.toml, which a
  non-programmer edits; a copy in REMPART_HOME takes its place);
- changed: something else answers there now;
- unreachable: timeout, DNS, refused, a server error, a redirect loop or a redirect to a
  private address: tried again next time, never counted as removed;
- unknown: the platform's public page cannot say (a private Telegram chat's link).

Each fetch is a row of `removal_checks` (time, status, final URL, SHA-256 of the body) and
each notice's check one audit entry. A notice all of whose places are gone gets its
removal time (notices.mark, "verified by fetch"); content still up makes its re-notice due
now (notices.due lists it). `rempart serve` runs it on a schedule (cases/removal_schedule.py).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from sqlalchemy import or_, select

from rempart.cases import notices
from rempart.cases.returns import place as place_of
from rempart.media.kinds import sniff
from rempart.sources.urls import Answer, FetchOptions, Refused, fetch_answer
from rempart.store import audit, repository
from rempart.store.db import Database
from rempart.store.models import (
    Bank,
    BankItem,
    FaceMatch,
    ItemSignal,
    Match,
    MatchOccurrence,
    Notice,
    RemovalCheck,
    ScanItem,
    utcnow,
)
from rempart.store.repository import StoreError

log = logging.getLogger("rempart.removal_check")

OUTCOMES = ("up", "gone", "changed", "unreachable", "unknown")
PACE_S = 2.0  # at least this long between two fetches from one host
PDQ_THRESHOLD = 31  # when the bank's is unknown (a face match's content)
CHECK_OPTIONS = FetchOptions(
    max_bytes=64 * 1024 * 1024, connect_timeout=10.0, read_timeout=20.0, deadline=60.0
)
_PAGE_BYTES = 2 * 1024 * 1024  # the part of a page searched for words and pictures
_TAG_CHARS = 4096  # a longer tag is passed over (a picture's tag is far shorter)


@dataclass(frozen=True)
class Platform:
    key: str
    name: str
    hosts: tuple[str, ...]
    gone_status: frozenset[int]
    gone_text: tuple[str, ...]
    unknown_text: tuple[str, ...]
    fetch_query: str
    unverifiable: tuple[str, ...]
    media: tuple[re.Pattern[str], ...]

    def serves(self, host: str) -> bool:
        return any(host == h or host.endswith("." + h) for h in self.hosts)


def load_pages(home: Path | None = None) -> list[Platform]:
    """The removal pages: REMPART_HOME/removal_pages.toml when it exists, else the bundled
    file. A malformed file or pattern is a StoreError naming it."""
    local = home / "removal_pages.toml" if home is not None else None
    source: Any = (
        local
        if local is not None and local.is_file()
        else resources.files("rempart") / "data" / "removal_pages.toml"
    )
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{source}: cannot read the removal pages ({exc})") from exc
    out = []
    for key, p in data.items():
        if not isinstance(p, dict):
            raise StoreError(f"{source}: [{key}] is not a section")
        try:
            out.append(
                Platform(
                    key,
                    str(p.get("name", key)),
                    tuple(str(h).lower() for h in p.get("hosts", [])),
                    frozenset(int(c) for c in p.get("gone_status", [])),
                    tuple(str(t) for t in p.get("gone_text", [])),
                    tuple(str(t) for t in p.get("unknown_text", [])),
                    str(p.get("fetch_query", "")),
                    tuple(str(t) for t in p.get("unverifiable", [])),
                    tuple(re.compile(str(m), re.I) for m in p.get("media", [])),
                )
            )
        except (TypeError, ValueError, re.error) as exc:
            raise StoreError(f"{source}: [{key}]: {exc}") from exc
    return out


@dataclass(frozen=True)
class PlaceCheck:
    """What one fetch of one place showed."""

    place: str
    url: str
    outcome: str
    reason: str
    checked_at: datetime
    http_status: int | None = None
    final_url: str | None = None
    body_sha256: str | None = None
    content_type: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "url": self.url,
            "outcome": self.outcome,
            "reason": self.reason,
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "http_status": self.http_status,
            "final_url": self.final_url,
            "body_sha256": self.body_sha256,
            "content_type": self.content_type,
            "detail": self.detail,
        }


@dataclass
class NoticeCheck:
    notice: int
    case: str
    platform: str
    status: str  # the notice's status after the check
    places: list[PlaceCheck] = field(default_factory=list)
    removal_verified: bool = False  # its removal time was set by this check
    renotice_due: bool = False  # content still up: due again now
    note: str = ""  # why nothing was fetched

    def as_dict(self) -> dict[str, Any]:
        return {
            "notice": f"N-{self.notice}",
            "case": self.case,
            "platform": self.platform,
            "status": self.status,
            "removal_verified": self.removal_verified,
            "renotice_due": self.renotice_due,
            "note": self.note,
            "places": [p.as_dict() for p in self.places],
        }


@dataclass
class CheckResult:
    notices: list[NoticeCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # notices named that could not be

    def counts(self) -> dict[str, int]:
        c = Counter(p.outcome for n in self.notices for p in n.places)
        return {k: c[k] for k in OUTCOMES if c[k]}

    @property
    def unreachable(self) -> int:
        return sum(p.outcome == "unreachable" for n in self.notices for p in n.places)

    def as_dict(self) -> dict[str, Any]:
        return {
            "notices": [n.as_dict() for n in self.notices],
            "counts": self.counts(),
            "removals_verified": sum(n.removal_verified for n in self.notices),
            "renotices_due": sum(n.renotice_due for n in self.notices),
            "problems": self.problems,
        }


@dataclass(frozen=True)
class _Reference:
    """The hashes of what a place showed when it was found."""

    exact: frozenset[str]  # md5 and sha256 hex
    pdq: tuple[tuple[str, int], ...]  # (hex, threshold)


class Pacer:
    """At least `gap` seconds between two fetches from one host."""

    def __init__(self, gap: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.gap = gap
        self._last: dict[str, float] = {}
        self._sleep = sleep

    def wait(self, url: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        last = self._last.get(host)
        if last is not None:
            left = self.gap - (time.monotonic() - last)
            if left > 0:
                self._sleep(left)
        self._last[host] = time.monotonic()


def _targets(db: Database, notice: Notice) -> list[tuple[str, str | None, str | None]]:
    """(place, address or None, match ref) of each place the notice names, once each."""
    refs = [str(i.get("match", "")) for i in notice.items]
    seen = notices.sightings(db, refs)
    out: list[tuple[str, str | None, str | None]] = []
    for item in notice.items:
        where = str(item.get("place") or "")
        if not where or any(where == t[0] for t in out):
            continue
        url: str | None = where if urlsplit(where).scheme in ("http", "https") else None
        ref = str(item.get("match") or "") or None
        if url is None and where.startswith("telegram:"):
            for prov, locator in seen.get(ref or "", []):
                if place_of(prov, locator) == where:
                    url = notices.message_link(prov)
                    break
        out.append((where, url, ref))
    return out


def _reference(db: Database, ref: str | None) -> _Reference:
    exact: set[str] = set()
    pdq: list[tuple[str, int]] = []
    if not ref or ref[0] not in "mf" or not ref[1:].isdigit():
        return _Reference(frozenset(), ())
    number = int(ref[1:])
    with db.session() as s:
        if ref[0] == "m":
            m = s.get(Match, number)
            if m is None:
                return _Reference(frozenset(), ())
            threshold = (
                s.scalar(
                    select(Bank.pdq_threshold)
                    .join(BankItem, BankItem.bank_id == Bank.id)
                    .where(BankItem.id == m.bank_item_id)
                )
                or PDQ_THRESHOLD
            )
            if m.content_sha256:
                exact.add(m.content_sha256)
            items = list(
                s.scalars(
                    select(ScanItem).where(
                        or_(
                            ScanItem.id == m.scan_item_id,
                            ScanItem.id.in_(
                                select(MatchOccurrence.scan_item_id).where(
                                    MatchOccurrence.match_id == m.id
                                )
                            ),
                        )
                    )
                )
            )
            for sig in s.scalars(select(ItemSignal).where(ItemSignal.item_id == m.bank_item_id)):
                if sig.signal_type in ("md5", "sha256"):
                    exact.add(sig.value)
                elif sig.signal_type == "pdq":
                    pdq.append((sig.value, threshold))
        else:
            fm = s.get(FaceMatch, number)
            if fm is None:
                return _Reference(frozenset(), ())
            threshold = PDQ_THRESHOLD
            first = s.get(ScanItem, fm.scan_item_id)
            items = [first] if first is not None else []
        for it in items:
            exact.update(h for h in (it.md5, it.sha256) if h)
            if it.pdq:
                pdq.append((it.pdq, threshold))
    return _Reference(frozenset(exact), tuple(pdq))


def _same(data: bytes, ref: _Reference) -> tuple[bool, str]:
    """Whether media bytes are the matched content: exact digests, then PDQ (pictures)."""
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha = hashlib.sha256(data).hexdigest()
    if md5 in ref.exact or sha in ref.exact:
        return True, "exact"
    kind = sniff(data[:16])
    if kind != "image" or not ref.pdq:
        return False, "not the same file" if kind else "not a picture"
    from rempart.media.errors import MediaError
    from rempart.signals.image_hashes import hash_image_bytes
    from rempart.signals.pdq import hamming

    try:
        found = hash_image_bytes(data, "fetched")
    except MediaError as exc:
        return False, f"unreadable picture ({exc})"
    best = min((hamming(found.pdq.hex, h), t) for h, t in ref.pdq)
    if best[0] <= best[1]:
        return True, f"pdq distance {best[0]}"
    return False, f"pdq distance {best[0]} (over {best[1]})"


_ATTR = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")


def _page_media(text: str, base: str, platform: Platform | None) -> list[str]:
    """The pictures a page names: og:image and twitter:image, and what the platform's
    patterns find in a tag. Read as text, linearly: each tag is the part of the page
    between a "<" and the next ">" (at most _TAG_CHARS long; a longer or broken one is
    passed over), so a hostile page's scripts are never run and no markup slows it down
    (html.parser takes quadratic time on a page of unclosed tags)."""
    patterns = platform.media if platform else ()
    found: list[str] = []
    for chunk in text.split(">"):
        if len(found) >= 16:
            break
        at = chunk.rfind("<")
        tag = chunk[at:] if at >= 0 else ""
        if not tag or len(tag) > _TAG_CHARS:
            continue
        if tag[1:5].lower() == "meta":
            values = {
                m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
                for m in _ATTR.finditer(tag)
            }
            kind = (values.get("property") or values.get("name") or "").lower()
            if kind in ("og:image", "twitter:image") and values.get("content"):
                found.append(values["content"])
        for pattern in patterns:
            found += [m.group(1) for m in pattern.finditer(tag + ">")][:4]
    out: list[str] = []
    for u in found:
        full = urljoin(base, html.unescape(u.strip()))
        if urlsplit(full).scheme in ("http", "https") and full not in out:
            out.append(full)
    return out[:4]


def _with_query(url: str, query: str) -> str:
    if not query:
        return url
    parts = urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit(parts._replace(query=joined))


class Checker:
    """Fetches places one after another (paced per host) and says what each shows."""

    def __init__(
        self,
        pages: list[Platform],
        options: FetchOptions = CHECK_OPTIONS,
        pace: float = PACE_S,
    ) -> None:
        self.pages = pages
        self.options = options
        self.pacer = Pacer(pace)
        self.client = httpx.Client(
            timeout=httpx.Timeout(options.read_timeout, connect=options.connect_timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": options.user_agent},
        )

    def close(self) -> None:
        self.client.close()

    def _platform(self, url: str) -> Platform | None:
        host = (urlsplit(url).hostname or "").lower()
        return next((p for p in self.pages if p.serves(host)), None)

    def _get(self, url: str) -> Answer:
        self.pacer.wait(url)
        return fetch_answer(self.client, url, self.options)

    def check(self, where: str, url: str, ref: _Reference) -> PlaceCheck:
        now = utcnow()
        platform = self._platform(url)
        path = urlsplit(url).path
        if platform and any(path.startswith(u) for u in platform.unverifiable):
            return PlaceCheck(
                where,
                url,
                "unknown",
                "unverifiable",
                now,
                detail=f"{platform.name} shows the same public page for this address whether "
                "the post exists or not: check it by hand or by a new export",
            )
        target = _with_query(url, platform.fetch_query) if platform else url
        try:
            answer = self._get(target)
        except Refused as exc:
            return PlaceCheck(where, url, "unreachable", exc.reason, now, detail=exc.detail)
        except httpx.TimeoutException:
            return PlaceCheck(where, url, "unreachable", "timeout", now, detail="timed out")
        except httpx.HTTPError as exc:
            return PlaceCheck(
                where, url, "unreachable", "network", now, detail=f"{type(exc).__name__}: {exc}"
            )
        proof: dict[str, Any] = {
            "http_status": answer.status,
            "final_url": answer.final_url,
            "body_sha256": hashlib.sha256(answer.body).hexdigest(),
            "content_type": answer.content_type[:100],
        }
        final_platform = self._platform(answer.final_url) or platform
        gone_codes = {404, 410} | (final_platform.gone_status if final_platform else set())
        if answer.status in gone_codes:
            return PlaceCheck(where, url, "gone", f"http-{answer.status}", now, **proof)
        if answer.status >= 400:
            return PlaceCheck(
                where,
                url,
                "unreachable",
                f"http-{answer.status}",
                now,
                **proof,
                detail=f"HTTP {answer.status}: tried again next time",
            )
        if sniff(answer.body[:16]) is not None or answer.content_type.startswith("video/"):
            same, how = _same(answer.body, ref)
            return PlaceCheck(where, url, "up" if same else "changed", how, now, **proof)
        text = answer.body[:_PAGE_BYTES].decode("utf-8", errors="replace")
        lowered = text.lower()
        if final_platform:
            if any(t.lower() in lowered for t in final_platform.unknown_text):
                return PlaceCheck(
                    where,
                    url,
                    "unknown",
                    "page-cannot-say",
                    now,
                    **proof,
                    detail=f"{final_platform.name}'s page cannot say whether the post is there",
                )
            if any(t.lower() in lowered for t in final_platform.gone_text):
                return PlaceCheck(
                    where,
                    url,
                    "gone",
                    f"removal-page:{final_platform.key}",
                    now,
                    **proof,
                    detail=f"{final_platform.name}'s removal page",
                )
        for media_url in _page_media(text, answer.final_url, final_platform):
            try:
                media = self._get(media_url)
            except (Refused, httpx.HTTPError):
                continue
            if media.status < 400 and sniff(media.body[:16]) is not None:
                same, how = _same(media.body, ref)
                if same:
                    return PlaceCheck(
                        where,
                        url,
                        "up",
                        f"page picture, {how}",
                        now,
                        **proof,
                        detail=f"picture {media.final_url} "
                        f"(sha256 {hashlib.sha256(media.body).hexdigest()})",
                    )
        return PlaceCheck(
            where,
            url,
            "changed",
            "other-content",
            now,
            **proof,
            detail="a page without the matched picture",
        )


def _chosen(db: Database, ids: list[int] | None, all_due: bool) -> tuple[list[Notice], list[str]]:
    problems: list[str] = []
    chosen: dict[int, Notice] = {}
    if all_due:
        for n in notices.all_notices(db):
            if n.status in notices.OPEN_STATUSES:
                chosen[n.id] = n
    if ids:
        by_id = {n.id: n for n in notices.all_notices(db)}
        for i in ids:
            if i in by_id:
                chosen.setdefault(i, by_id[i])
            else:
                problems.append(f"N-{i}: no such notice")
    return [chosen[k] for k in sorted(chosen)], problems


def check_notices(
    db: Database,
    home: Path,
    notice_ids: list[int] | None = None,
    *,
    all_due: bool = False,
    options: FetchOptions = CHECK_OPTIONS,
    pace: float = PACE_S,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """Fetch the places of these notices (and, with `all_due`, of every open one: sent,
    acknowledged, no answer) and record what each shows; a verified removal sets a
    notice's removal time, content still up makes it due again now. A notice named that
    does not exist is a problem named in the result; the others are checked."""
    if not notice_ids and not all_due:
        raise StoreError("name the notices to check, or check all open ones (--all-due)")
    pages = load_pages(home)
    chosen, problems = _chosen(db, notice_ids, all_due)
    result = CheckResult(problems=problems)
    plans = [(n, _targets(db, n)) for n in chosen]
    total = sum(sum(1 for t in targets if t[1]) for _, targets in plans)
    done = 0
    checker = Checker(pages, options, pace)
    try:
        for n, targets in plans:
            with db.session() as s:
                case = repository.case_number(s, n.case_id) or ""
            nc = NoticeCheck(n.id, case, n.platform, n.status)
            result.notices.append(nc)
            fetchable = [(w, u, r) for w, u, r in targets if u]
            if not fetchable:
                nc.note = "no place with an address (a local file or a chat without a link)"
                continue
            for where, url, ref in fetchable:
                assert url is not None
                nc.places.append(checker.check(where, url, _reference(db, ref)))
                done += 1
                if progress is not None:
                    progress(done, total)
            _record(db, n, nc, len(targets))
    finally:
        checker.close()
    return result


def _record(db: Database, n: Notice, nc: NoticeCheck, places: int) -> None:
    """The fetches' rows and the audit entry; then the removal or the re-notice."""
    actor = audit.current_actor()
    all_gone = len(nc.places) == places and all(p.outcome == "gone" for p in nc.places)
    still_up = any(p.outcome == "up" for p in nc.places)
    is_open = n.status in notices.OPEN_STATUSES
    with db.session() as s:
        for p in nc.places:
            s.add(
                RemovalCheck(
                    notice_id=n.id,
                    place=p.place,
                    url=p.url,
                    checked_at=p.checked_at,
                    outcome=p.outcome,
                    reason=p.reason[:64],
                    http_status=p.http_status,
                    final_url=p.final_url,
                    body_sha256=p.body_sha256,
                    content_type=p.content_type,
                    detail=p.detail,
                    actor=actor,
                )
            )
        if still_up and is_open:
            row = s.get(Notice, n.id)
            now = utcnow()
            if row is not None and (
                row.next_notice_at is None or notices._aware(row.next_notice_at) > now
            ):
                row.next_notice_at = now
            nc.renotice_due = True
        audit.record(
            s,
            "notice-check",
            case=nc.case,
            details={
                "notice": n.id,
                "places": [
                    {
                        k: v
                        for k, v in p.as_dict().items()
                        if k not in ("content_type",) and v not in (None, "")
                    }
                    for p in nc.places
                ],
                "renotice_due": nc.renotice_due,
            },
        )
    if all_gone and n.status not in ("removed", "refused", "draft"):
        last = max(p.checked_at for p in nc.places)
        marked = notices.mark(db, n.id, "removed", at=last, verified_by="fetch")
        nc.removal_verified, nc.status = True, marked.status


def history(db: Database, notice_id: int) -> list[dict[str, Any]]:
    """Every recorded fetch of a notice's places, oldest first."""
    with db.session() as s:
        rows = s.scalars(
            select(RemovalCheck)
            .where(RemovalCheck.notice_id == notice_id)
            .order_by(RemovalCheck.id)
        )
        return [
            PlaceCheck(
                r.place,
                r.url,
                r.outcome,
                r.reason or "",
                r.checked_at,
                r.http_status,
                r.final_url,
                r.body_sha256,
                r.content_type,
                r.detail or "",
            ).as_dict()
            for r in rows
        ]
