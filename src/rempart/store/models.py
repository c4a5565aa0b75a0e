"""Database tables. The database is Rempart's source of truth; indexes are rebuilt from it.

Layout, designed for the capabilities to come:
- cases and their consent records (a victim's hashes are stored only under a consent record);
- banks of hash lists; a bank item is one submitted media file, with one row per signal
  (pdq, md5, sha256 now; video frames, face templates later);
- scans, the media items they saw (with provenance) and the matches found.
No pickled objects: structured values are JSON columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Meta(Base):
    """Key/value facts about this database (instance id, index generation, ...)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # scrypt hash of the secret the victim uses to check her case's status (never stored plain)
    secret_hash: Mapped[str | None] = mapped_column(String(200))

    consents: Mapped[list[Consent]] = relationship(
        back_populates="case", cascade="all, delete-orphan"
    )


class Consent(Base):
    """Who consented, when, for what purpose, and how long the data may be kept."""

    __tablename__ = "consents"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    given_by: Mapped[str] = mapped_column(String(200))
    given_at: Mapped[datetime]
    purpose: Mapped[str] = mapped_column(Text)
    retention_until: Mapped[datetime | None]
    allow_exchange: Mapped[bool] = mapped_column(default=False)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="consents")


class Bank(Base):
    __tablename__ = "banks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    pdq_threshold: Mapped[int] = mapped_column(Integer, default=31)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Submission(Base):
    """One imported hash-submission file."""

    __tablename__ = "submissions"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id", ondelete="SET NULL"))
    source_name: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    item_count: Mapped[int] = mapped_column(default=0)


class BankItem(Base):
    """One media file known to a bank, through its signals (never its pixels)."""

    __tablename__ = "bank_items"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE")
    )
    media_type: Mapped[str] = mapped_column(String(16), default="image")
    width: Mapped[int | None]
    height: Mapped[int | None]
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]

    signals: Mapped[list[ItemSignal]] = relationship(
        back_populates="item", cascade="all, delete-orphan", passive_deletes=True
    )


class ItemSignal(Base):
    """One hash of a bank item: signal_type is pdq, md5, sha256 (vpdq, face later)."""

    __tablename__ = "item_signals"
    __table_args__ = (Index("ix_item_signals_type_value", "signal_type", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("bank_items.id", ondelete="CASCADE"), index=True
    )
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    quality: Mapped[int | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)

    item: Mapped[BankItem] = relationship(back_populates="signals")


class ScanRun(Base):
    __tablename__ = "scan_runs"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ScanItem(Base):
    """One media item a scan saw: its hashes, or why it was skipped, and where it came from."""

    __tablename__ = "scan_items"
    __table_args__ = (UniqueConstraint("scan_id", "locator"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scan_runs.id", ondelete="CASCADE"))
    locator: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    md5: Mapped[str | None] = mapped_column(String(32), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    media_type: Mapped[str] = mapped_column(String(16), default="image", server_default="image")
    duration: Mapped[float | None]  # seconds, for videos
    # With --faces: every face found, [{box, status, score, time}] (no template stored)
    faces: Mapped[list[Any] | None] = mapped_column(JSON)
    # Synthetic-media findings (Finding.as_json() each; [] none found, None not looked)
    synthetic: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reviewed:
    """What every kind of match carries for the review queue: the decision, who took it,
    when and why, and whether it may show a minor."""

    review_status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    review_reason: Mapped[str | None] = mapped_column(Text)
    possible_minor: Mapped[bool] = mapped_column(default=False, server_default="0")


class Match(Reviewed, Base):
    """One (found content, bank entry): the found file's SHA-256 and the entry it matched,
    reviewed once; every sighting of that content is a MatchOccurrence (migration 0012).
    `scan_item_id` is the first sighting."""

    __tablename__ = "matches"
    __table_args__ = (
        Index("ix_matches_content_bank", "content_sha256", "bank_item_id"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    scan_item_id: Mapped[int] = mapped_column(
        ForeignKey("scan_items.id", ondelete="CASCADE"), index=True
    )
    bank_item_id: Mapped[int] = mapped_column(
        ForeignKey("bank_items.id", ondelete="CASCADE"), index=True
    )
    signal_type: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(default=0)
    transform: Mapped[str | None] = mapped_column(String(32))
    # Video matches: percentages and matched time ranges; stills found in videos: where.
    details: Mapped[dict[str, Any] | None]
    content_sha256: Mapped[str | None] = mapped_column(String(64))


class MatchOccurrence(Base):
    """One sighting of a match's content: which scan item (where it was found, by which
    scan) and when. The first sighting is one too."""

    __tablename__ = "match_occurrences"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    scan_item_id: Mapped[int] = mapped_column(
        ForeignKey("scan_items.id", ondelete="CASCADE"), index=True
    )
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrustedSource(Base):
    """A place the caseworker marked as hers or trusted for a case (her own folder of
    originals, her own account): her content found there never counts as "removed content
    came back" (migration 0012). `source`: an absolute folder or file path, a URL prefix, or
    telegram:<chat id>."""

    __tablename__ = "trusted_sources"
    __table_args__ = (UniqueConstraint("case_id", "source"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaceTemplate(Base):
    """A face template (128-d embedding) of a person, encrypted (AES-GCM, key outside the
    database), stored only under a consent record."""

    __tablename__ = "face_templates"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id", ondelete="SET NULL"))
    ref: Mapped[str] = mapped_column(String(32), unique=True)  # random; bound into the cipher
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(500), default="")
    face_width: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaceMatch(Reviewed, Base):
    """A face in a scanned item that matches an enrolled template."""

    __tablename__ = "face_matches"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    scan_item_id: Mapped[int] = mapped_column(
        ForeignKey("scan_items.id", ondelete="CASCADE"), index=True
    )
    template_id: Mapped[int] = mapped_column(
        ForeignKey("face_templates.id", ondelete="CASCADE"), index=True
    )
    distance: Mapped[float]
    box: Mapped[list[Any]] = mapped_column(JSON)
    time: Mapped[float | None]  # seconds into a video
    content_sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # 0012


class FaceMatchOccurrence(Base):
    """One sighting of a face match's content (as MatchOccurrence, for face matches)."""

    __tablename__ = "face_match_occurrences"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    face_match_id: Mapped[int] = mapped_column(
        ForeignKey("face_matches.id", ondelete="CASCADE"), index=True
    )
    scan_item_id: Mapped[int] = mapped_column(
        ForeignKey("scan_items.id", ondelete="CASCADE"), index=True
    )
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One entry of the append-only audit log. `entry_hash` = SHA-256 over the entry's
    fields and `prev_hash` (the previous entry's hash): changing or deleting an entry breaks
    the chain. `prev_hash` is unique, so two writers cannot fork the chain."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601, UTC, as hashed
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    case_number: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, as hashed
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64))


class CaseEvent(Base):
    """A change of a case's status: from, to, who, when and why."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")


class Notice(Base):
    """A takedown notice to one platform for some confirmed matches of a case, and its
    tracking: status (draft, sent, acknowledged, removed, refused, no-answer), when it was
    sent and re-sent, when the content was removed."""

    __tablename__ = "notices"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8))
    jurisdictions: Mapped[list[Any]] = mapped_column(JSON)
    items: Mapped[list[Any]] = mapped_column(JSON)  # match refs with their content locations
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    status_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    next_notice_at: Mapped[datetime | None]
    times_sent: Mapped[int] = mapped_column(default=0)
    # removed_at set by a fetch that saw every place gone, not by hand (migration 0014)
    removal_verified: Mapped[bool] = mapped_column(default=False, server_default="0")


class RemovalCheck(Base):
    """What one fetch of a place a notice names showed (rempart.cases.removal_check): up,
    gone, changed or unreachable, with the HTTP status, final URL and SHA-256 of the
    response body as proof (migration 0014)."""

    __tablename__ = "removal_checks"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    place: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))


class ScheduledJob(Base):
    """A job `rempart serve` runs on a schedule (the removal check): the claim that lets
    one worker only run it (`holder` until `locked_until`) and when it last ran (0014)."""

    __tablename__ = "scheduled_jobs"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]


class Withdrawal(Base):
    """A withdrawn hash, kept only as SHA-256 of its value: a partner holding the hash
    computes the same digest and removes it; the hash itself cannot be recovered."""

    __tablename__ = "withdrawals"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(64))
    signal_type: Mapped[str] = mapped_column(String(16))
    value_sha256: Mapped[str] = mapped_column(String(64), index=True)
    withdrawn_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- The HTTP API (migration 0010): tenants, keys, bank sharing, feedback, query log ----


class Tenant(Base):
    """An organisation (a helpline: its caseworkers and their cases) or a platform (its
    trust & safety team: its queries, its feedback, the banks shared with it)."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # organisation or platform
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only the SHA-256 of the (high-entropy, random) key is stored. `key_id`
    is the key's public part, shown in lists and audit entries."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # admin, caseworker, platform, victim
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(200), default="")
    rate_limit: Mapped[float | None]  # requests per second; None: the role's default
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None]


class BankShare(Base):
    """A bank a platform may match against."""

    __tablename__ = "bank_shares"
    __table_args__ = (UniqueConstraint("bank_id", "tenant_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseOwner(Base):
    """The organisation whose caseworkers may see and change a case."""

    __tablename__ = "case_owners"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


class PlatformFeedback(Base):
    """What a platform did about a match: removed, not_violating or false_positive."""

    __tablename__ = "platform_feedback"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    bank_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("bank_items.id", ondelete="SET NULL"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    bank_name: Mapped[str] = mapped_column(String(100))
    verdict: Mapped[str] = mapped_column(String(20))
    content_ref: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiQuery(Base):
    """One hash a tenant looked up through the API, and what it matched (bank entry ids,
    never the bank's hashes). Visible only to that tenant (and admins)."""

    __tablename__ = "api_queries"
    __table_args__ = (Index("ix_api_queries_tenant_at", "tenant_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    endpoint: Mapped[str] = mapped_column(String(32))
    signal_type: Mapped[str] = mapped_column(String(16))
    signal: Mapped[str] = mapped_column(String(128))
    match_count: Mapped[int] = mapped_column(default=0)
    matched: Mapped[list[Any]] = mapped_column(JSON, default=list)


class LimitBucket(Base):
    """A token bucket (requests per second of one API key), shared by every server worker
    (rempart.access.ratelimit): updated by one atomic upsert per request."""

    __tablename__ = "limit_buckets"
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float]
    last: Mapped[float]  # wall-clock seconds (time.time: the same for every worker)
    ok: Mapped[int]  # whether the last take was allowed (read back by the same statement)


class LimitFailure(Base):
    """One failure counted by a failure limit (a wrong secret for a case number, a wrong
    key at sign-in), shared by every server worker; rows older than the window are deleted."""

    __tablename__ = "limit_failures"
    __table_args__ = (
        Index("ix_limit_failures_key", "scope", "key", "at"),
        Index("ix_limit_failures_at", "scope", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[float]


class OrgSetting(Base):
    """One of the organisation's settings (rempart.cases.self_settings: may she open a case
    herself, into which intake bank, act before review)."""

    __tablename__ = "org_settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseIntake(Base):
    """How a case came in (opened by her on the case page), whether a caseworker has taken
    it, and the one claim of its withdrawal (two tabs withdrawing at once: one withdrawal)."""

    __tablename__ = "case_intake"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    self_opened: Mapped[bool] = mapped_column(default=False)
    taken_by: Mapped[str | None] = mapped_column(String(200))
    taken_at: Mapped[datetime | None]
    withdraw_claim: Mapped[str | None] = mapped_column(String(64))


class HeldSubmission(Base):
    """A hash file she sent from the case page, held (never indexed, never matched) until a
    caseworker takes her case; deleted by her withdrawal (rempart.cases.withdrawal)."""

    __tablename__ = "held_submissions"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    items: Mapped[int]
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


# ---- Notices sent by e-mail (migration 0015, rempart.cases.mail_settings and mailer) ----


class SmtpSetting(Base):
    """An organisation's SMTP server (`organisation`: a tenant's name, or "" for the
    instance's own). The password is kept encrypted under the mail key, never in clear."""

    __tablename__ = "smtp_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(String(100), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    security: Mapped[str] = mapped_column(String(16))  # none, starttls, tls
    username: Mapped[str] = mapped_column(String(255), default="")
    password_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    from_address: Mapped[str] = mapped_column(String(320))
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeSending(Base):
    """One e-mail a notice left by: its Message-ID, when, to whom, the server's answer."""

    __tablename__ = "notice_sendings"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipient: Mapped[str] = mapped_column(String(320))
    smtp_answer: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200), default="")


class ReviewCopy(Base):
    """A match's review copy (migration 0017): its media came as bytes (an archive member, a
    download), gone after the scan, so a small greyscale copy is kept encrypted at `path`
    (rempart.cases.review_copies) for its preview and audited reveal."""

    __tablename__ = "review_copies"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never given twice
    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int | None] = mapped_column(
        ForeignKey("matches.id", ondelete="CASCADE"), unique=True
    )
    face_match_id: Mapped[int | None] = mapped_column(
        ForeignKey("face_matches.id", ondelete="CASCADE"), unique=True
    )
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
