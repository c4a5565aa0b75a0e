"""Recording a scan in the database as it goes.

The run's start (its sources and options, for `--resume`), each batch of outcomes matched
and written in one transaction (items, matches and face matches: content seen before, in
this scan or an earlier one, is another sighting of its match, not a new match), the
problems the sources met, and the whole result read back from the database (also for a
resumed scan). Results are written batch by batch, so an interrupted scan keeps what it had
finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.media.errors import MediaError
from rempart.scan.face_match import FaceHit, FaceMatcher
from rempart.scan.matcher import Hit, Matcher
from rempart.scan.options import (
    FaceNote,
    FaceRow,
    MatchRow,
    Outcome,
    ScanOptions,
    ScanResult,
    Skipped,
)
from rempart.scan.synthetic import match_findings, watermark_findings
from rempart.scan.video_match import match_video
from rempart.signals.image_hashes import ImageHashes
from rempart.signals.pdq import MIN_QUALITY
from rempart.signals.vpdq import VideoHashes
from rempart.sources.base import SourceProblem
from rempart.store import audit, review_copies
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
    ScanRun,
)
from rempart.store.repository import StoreError


def start_run(
    db: Database, roots: list[Path], options: ScanOptions, url_file: Path | None = None
) -> int:
    """A new scan run (its sources and options kept for `--resume` and its report), audited."""
    with db.session() as s:
        run = ScanRun(
            sources={
                "folders": [str(r) for r in roots],
                **({"urls": str(url_file)} if url_file is not None else {}),
            },
            options={
                "banks": list(options.banks),
                "workers": options.workers,
                "seconds_per_frame": options.seconds_per_frame,
                "faces": options.faces,
                "face_detector": options.face_detector,
                "robust": options.robust,
                "synthetic": options.synthetic,
                **(
                    {"report": options.report, "report_format": options.report_format}
                    if options.report
                    else {}
                ),
            },
        )
        s.add(run)
        s.flush()
        audit.record(
            s,
            "scan-start",
            details={"scan": run.id, "sources": run.sources, "options": run.options},
        )
        return run.id


def recorded_locators(db: Database, scan_id: int) -> set[str]:
    """The items scan `scan_id` has recorded already (a resumed scan passes over them)."""
    with db.session() as s:
        return set(s.scalars(select(ScanItem.locator).where(ScanItem.scan_id == scan_id)))


def record_problems(db: Database, scan_id: int, problems: list[SourceProblem]) -> None:
    """What the sources could not read (or a Telegram export did not contain), as items of
    the scan: "not-exported" ones apart, every other one "skipped"."""
    if not problems:
        return
    with db.session() as s:
        for p in problems:
            status = "not-exported" if p.reason == "not-exported" else "skipped"
            s.add(
                ScanItem(
                    scan_id=scan_id,
                    locator=p.locator,
                    status=status,
                    reason=p.reason,
                    detail=p.detail,
                    provenance=p.provenance,
                )
            )


def record_batch(
    db: Database,
    matcher: Matcher,
    result: ScanResult,
    batch: list[Outcome],
    face_matcher: FaceMatcher | None = None,
    home: Path | None = None,
) -> None:
    """Match a batch of outcomes against the banks (and faces against the templates) and
    record its items, matches and sightings in one transaction; `result` counts them.
    `home`: where a match whose media came as bytes keeps its review copy (None: none)."""
    if not batch:
        return
    images = [o for o in batch if isinstance(o.hashes, ImageHashes)]
    videos = [o for o in batch if isinstance(o.hashes, VideoHashes)]
    found = matcher.match_hashes(
        [o.hashes for o in images],  # type: ignore[misc]
        [o.near for o in images] if all(o.near is not None for o in images) else None,
    )
    hits_by_locator = {o.ref.locator: h for o, h in zip(images, found, strict=True)}
    exact = matcher.exact([o.hashes for o in videos])  # type: ignore[misc]
    for o, exact_hits in zip(videos, exact, strict=True):
        assert isinstance(o.hashes, VideoHashes)
        best: dict[tuple[str, int], Hit] = {}
        for video_hit in exact_hits + match_video(matcher, o.hashes):
            best.setdefault((video_hit.bank, video_hit.bank_entry), video_hit)  # exact first
        hits_by_locator[o.ref.locator] = list(best.values())
    with db.session() as s:
        for o in batch:
            if o.error is not None or o.hashes is None:
                err = o.error or MediaError(o.ref.path, "internal-error", "no result")
                result.skipped.append(Skipped(o.ref.locator, err.reason, str(err)))
                s.add(
                    ScanItem(
                        scan_id=result.scan_id,
                        locator=o.ref.locator,
                        status="skipped",
                        reason=err.reason,
                        detail=str(err),
                        provenance=o.ref.provenance,
                    )
                )
                continue
            h = o.hashes
            result.hashed += 1
            result.from_cache += o.cached
            item_hits = hits_by_locator[o.ref.locator]
            if isinstance(h, VideoHashes):
                result.videos += 1
                low = not any(f.quality >= MIN_QUALITY for f in h.frames)
                quality = max((f.quality for f in h.frames), default=0)
                first = h.frames[0].pdq_hex if h.frames else None
                extra = {"media_type": "video", "duration": h.duration}
                note = "; ".join(h.notes) or None
            else:
                low = h.pdq.quality < MIN_QUALITY
                quality, first, extra, note = h.pdq.quality, h.pdq.hex, {}, None
            if low:
                result.low_quality.append(o.ref.locator)
            signals = _signals(o, bool(item_hits) and isinstance(h, ImageHashes))
            item = ScanItem(
                scan_id=result.scan_id,
                locator=o.ref.locator,
                status="matched" if item_hits else ("low-quality" if low else "hashed"),
                reason="too little detail to hash" if low else None,
                detail=note,
                md5=h.md5,
                sha256=h.sha256,
                pdq=first,
                pdq_quality=quality,
                width=h.width,
                height=h.height,
                provenance=o.ref.provenance,
                synthetic=signals,
                **extra,
            )
            if signals:
                result.synthetic[o.ref.locator] = signals
            if o.faces is not None:
                item.faces = [
                    {
                        "box": list(f.box),
                        "status": f.status,
                        "score": round(f.score, 3),
                        "time": f.time,
                    }
                    for f in o.faces
                ]
            s.add(item)
            s.flush()
            if o.faces is not None:
                _record_faces(s, item, o, result, face_matcher, home)
            for hit in item_hits:
                match = _record_match(s, item, h.sha256, hit)
                if home is not None and o.ref.data is not None:
                    _keep_copy(s, home, o, match.id, review_copies.moment(hit.details))
                result.matches.append(
                    MatchRow(
                        o.ref.locator,
                        hit,
                        quality,
                        synthetic=match_findings(signals, hit.details),
                    )
                )


def _keep_copy(
    s: Session, home: Path, o: Outcome, match_id: int, at: float, *, face: bool = False
) -> None:
    """Keep the review copy of a match whose media came as bytes (store/review_copies.py);
    media that cannot be read again only goes without one."""
    assert o.ref.data is not None
    try:
        picture = review_copies.picture_of(
            o.ref.data, o.ref.path, video=isinstance(o.hashes, VideoHashes), at=at
        )
        if face:
            review_copies.keep(s, home, picture, face_match_id=match_id)
        else:
            review_copies.keep(s, home, picture, match_id=match_id)
    except (MediaError, OSError, ValueError):
        pass


def _signals(o: Outcome, matched: bool) -> list[dict[str, Any]] | None:
    """The item's synthetic-media findings (None: not looked); a matched picture's invisible
    watermark is looked for here, on matches only (its cost: scan/synthetic.py)."""
    if o.synthetic is None:
        return None
    found = list(o.synthetic)
    if matched:
        found += watermark_findings(o.ref.path if o.ref.data is None else None, o.ref.data)
    return found


def _record_match(s: Session, item: ScanItem, sha256: str, hit: Hit) -> Match:
    """One match per (found content, bank entry), reviewed once: content seen before
    (this scan or an earlier one) is another sighting of its match, not a new match."""
    match = s.scalar(
        select(Match)
        .where(Match.bank_item_id == hit.bank_entry, Match.content_sha256 == sha256)
        .order_by(Match.id)
        .limit(1)
    )
    if match is None:
        match = Match(
            scan_item_id=item.id,
            bank_item_id=hit.bank_entry,
            signal_type=hit.signal,
            distance=hit.distance,
            transform=hit.transform,
            details=hit.details,
            content_sha256=sha256,
        )
        s.add(match)
        s.flush()
    s.add(MatchOccurrence(match_id=match.id, scan_item_id=item.id))
    return match


def _record_faces(
    s: Session,
    item: ScanItem,
    o: Outcome,
    result: ScanResult,
    face_matcher: FaceMatcher | None,
    home: Path | None = None,
) -> None:
    faces = o.faces or ()
    result.faces_found += len(faces)
    result.faces_not_compared.extend(
        FaceNote(o.ref.locator, f.box, f.status, f.time) for f in faces if f.status != "ok"
    )
    hits = face_matcher.match(faces) if face_matcher is not None else []
    for hit in hits:
        face_match = _record_face_match(s, item, hit)
        if home is not None and o.ref.data is not None:
            _keep_copy(s, home, o, face_match.id, hit.time or 0.0, face=True)
        result.face_matches.append(FaceRow(o.ref.locator, hit))
    if hits and item.status != "matched":
        item.status = "matched"


def _record_face_match(s: Session, item: ScanItem, hit: FaceHit) -> FaceMatch:
    """One face match per (found content, template, face in it), reviewed once; a later
    sighting of the same content is a FaceMatchOccurrence."""
    match = None
    if item.sha256:
        for known in s.scalars(
            select(FaceMatch)
            .where(
                FaceMatch.template_id == hit.template_id, FaceMatch.content_sha256 == item.sha256
            )
            .order_by(FaceMatch.id)
        ):
            if list(known.box) == list(hit.box) and known.time == hit.time:
                match = known
                break
    if match is None:
        match = FaceMatch(
            scan_item_id=item.id,
            template_id=hit.template_id,
            distance=hit.distance,
            box=list(hit.box),
            time=hit.time,
            content_sha256=item.sha256,
        )
        s.add(match)
        s.flush()
    s.add(FaceMatchOccurrence(face_match_id=match.id, scan_item_id=item.id))
    return match


def load_result(
    db: Database, scan_id: int, *, banks: tuple[str, ...] = (), faces_looked: bool = False
) -> ScanResult:
    """A scan's whole result, read back from the database (also for a resumed scan)."""
    with db.session() as s:
        run = s.get(ScanRun, scan_id)
        if run is None:
            raise StoreError(f"no scan {scan_id}")
        result = ScanResult(
            scan_id=scan_id,
            started_at=run.started_at,
            banks=banks,
            faces_looked=faces_looked,
            finished_at=run.finished_at,
        )
        items = s.scalars(
            select(ScanItem).where(ScanItem.scan_id == scan_id).order_by(ScanItem.id)
        ).all()
        by_id = {i.id: i for i in items}
        for item in items:
            if item.status == "skipped":
                result.skipped.append(
                    Skipped(
                        item.locator, item.reason or "", item.detail or "", item.provenance or {}
                    )
                )
                continue
            if item.status == "not-exported":
                result.not_exported.append(
                    Skipped(
                        item.locator, item.reason or "", item.detail or "", item.provenance or {}
                    )
                )
                continue
            result.hashed += 1
            result.videos += item.media_type == "video"
            if item.synthetic:
                result.synthetic[item.locator] = list(item.synthetic)
            if item.status == "low-quality":
                result.low_quality.append(item.locator)
            for face in item.faces or []:
                result.faces_found += 1
                if face.get("status") != "ok":
                    result.faces_not_compared.append(
                        FaceNote(
                            item.locator,
                            tuple(face.get("box") or (0, 0, 0, 0)),
                            str(face.get("status")),
                            face.get("time"),
                        )
                    )
        rows = (
            s.execute(
                select(Match, MatchOccurrence.scan_item_id, BankItem.label, Bank.name, Case.number)
                .join(MatchOccurrence, MatchOccurrence.match_id == Match.id)
                .join(BankItem, Match.bank_item_id == BankItem.id)
                .join(Bank, BankItem.bank_id == Bank.id)
                .outerjoin(Case, BankItem.case_id == Case.id)
                .where(MatchOccurrence.scan_item_id.in_(list(by_id)))
                .order_by(MatchOccurrence.id)
            ).all()
            if by_id
            else []
        )  # every sighting in this scan, of new or known matches
        for m, seen_in, label, bank_name, case_number in rows:
            item = by_id[seen_in]
            hit = Hit(
                bank_name,
                m.bank_item_id,
                case_number,
                m.signal_type,
                m.distance,
                m.transform,
                label,
                m.details,
            )
            result.matches.append(
                MatchRow(
                    item.locator,
                    hit,
                    item.pdq_quality,
                    item.provenance or {},
                    match_findings(item.synthetic, m.details),
                )
            )
        face_rows = (
            s.execute(
                select(
                    FaceMatch, FaceMatchOccurrence.scan_item_id, FaceTemplate.source, Case.number
                )
                .join(FaceMatchOccurrence, FaceMatchOccurrence.face_match_id == FaceMatch.id)
                .join(FaceTemplate, FaceMatch.template_id == FaceTemplate.id)
                .join(Case, FaceTemplate.case_id == Case.id)
                .where(FaceMatchOccurrence.scan_item_id.in_(list(by_id)))
                .order_by(FaceMatchOccurrence.id)
            ).all()
            if by_id
            else []
        )  # every sighting in this scan
        for fm, seen_in, source, case_number in face_rows:
            fh = FaceHit(
                case_number,
                fm.template_id,
                source,
                fm.distance,
                round(max(0.0, 1 - fm.distance), 4),
                tuple(fm.box),
                fm.time,
            )
            result.face_matches.append(FaceRow(by_id[seen_in].locator, fh))
    result.files = result.hashed + len(result.skipped) + len(result.not_exported)
    return result


def summary(result: ScanResult) -> dict[str, object]:
    """The counts kept with the run and written at the top of its report."""
    return {
        "files": result.files,
        "hashed": result.hashed,
        "videos": result.videos,
        "matched_files": result.matched_files,
        "matches": len(result.matches),
        "skipped": len(result.skipped),
        "not_exported": len(result.not_exported),
        "known_content_reused": result.from_cache,
        "too_little_detail": len(result.low_quality),
        "seconds": round(result.seconds, 3),
        **(
            {
                "faces_found": result.faces_found,
                "face_matches": len(result.face_matches),
                "faces_not_compared": len(result.faces_not_compared),
            }
            if result.faces_looked
            else {}
        ),
    }
