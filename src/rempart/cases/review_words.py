"""A review-queue item in words: what was found, how sure, where, when, how often.

Why a module of its own: a caseworker deciding dozens of matches a day needs "cropped copy,
distance 12 of 256 bits: very close; matches start at 31, in room X, message 41, seen 3
times" rather than "pdq-crop 12". The command line (`rempart review list`) and the web UI's
queue and match page show the same words, built here once from a `ReviewItem` (no database,
no SQLAlchemy: the light listing path stays light), in English, French and Korean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from rempart.cases.queue import ReviewItem

LANGUAGES = ("en", "fr", "ko")
MIN_INLIERS = 12  # rempart.scan.robust.MIN_INLIERS (not imported: it pulls in numpy/OpenCV)
PDQ_BITS = 256

# What was found, by method (and variant): the words a caseworker reads first.
_WHAT: dict[str, dict[str, str]] = {
    "exact": {"en": "exact copy", "fr": "copie exacte", "ko": "완전히 같은 사본"},
    "look-alike": {"en": "look-alike", "fr": "image ressemblante", "ko": "유사 이미지"},
    "crop": {"en": "cropped copy", "fr": "copie recadrée", "ko": "잘라낸 사본"},
    "frame": {
        "en": "her photo inside a frame",
        "fr": "sa photo dans un cadre",
        "ko": "테두리 안에 든 그녀의 사진",
    },
    "turned": {
        "en": "mirrored/turned copy",
        "fr": "copie retournée ou tournée",
        "ko": "뒤집히거나 회전된 사본",
    },
    "part": {
        "en": "part of her photo — the rest replaced",
        "fr": "une partie de sa photo — le reste remplacé",
        "ko": "그녀 사진의 일부 — 나머지는 바뀜",
    },
    "face": {"en": "her face", "fr": "son visage", "ko": "그녀의 얼굴"},
    "same-video": {"en": "same video", "fr": "même vidéo", "ko": "같은 동영상"},
    "part-video": {
        "en": "part of her video",
        "fr": "une partie de sa vidéo",
        "ko": "그녀 동영상의 일부",
    },
    "turned-video": {
        "en": "her video, mirrored or turned",
        "fr": "sa vidéo, retournée ou tournée",
        "ko": "뒤집히거나 회전된 그녀의 동영상",
    },
    "framed-video": {
        "en": "her video inside a frame",
        "fr": "sa vidéo dans un cadre",
        "ko": "테두리 안에 든 그녀의 동영상",
    },
    "cropped-video": {
        "en": "cropped copy of her video",
        "fr": "copie recadrée de sa vidéo",
        "ko": "잘라낸 그녀의 동영상",
    },
    "pip-video": {
        "en": "her video in a corner of another video",
        "fr": "sa vidéo dans un coin d'une autre vidéo",
        "ko": "다른 동영상 구석에 든 그녀의 동영상",
    },
    "photo-in-video": {
        "en": "her photo inside a video",
        "fr": "sa photo dans une vidéo",
        "ko": "동영상 속 그녀의 사진",
    },
}
_METHOD_WHAT = {
    "sha256": "exact",
    "md5": "exact",
    "pdq": "look-alike",
    "pdq-trimmed": "frame",
    "pdq-deskewed": "turned",
    "pdq-rotation": "turned",
    "pdq-crop": "crop",
    "pdq-region": "part",
    "local-features": "part",
    "face": "face",
}

_T: dict[str, dict[str, str]] = {
    "exact": {
        "en": "identical file (same SHA-256/MD5 digest): certain",
        "fr": "fichier identique (même empreinte SHA-256/MD5) : certain",
        "ko": "동일한 파일(SHA-256/MD5 같음): 확실함",
    },
    "bits": {
        "en": "distance {d} of 256 bits: {band}; matches start at {t}",
        "fr": "distance {d} sur 256 bits : {band} ; une correspondance commence à {t}",
        "ko": "256비트 중 거리 {d}: {band}; {t} 이하부터 일치",
    },
    "very-close": {"en": "very close", "fr": "très proche", "ko": "매우 가까움"},
    "close": {"en": "close", "fr": "proche", "ko": "가까움"},
    "near-limit": {"en": "near the limit", "fr": "près de la limite", "ko": "한계에 가까움"},
    "keypoints": {
        "en": "{n} agreeing keypoints (a match needs at least {min})",
        "fr": "{n} points clés concordants (il en faut au moins {min})",
        "ko": "일치하는 특징점 {n}개 (최소 {min}개 필요)",
    },
    "video": {
        "en": "{q}% of this video matches {s}% of hers",
        "fr": "{q} % de cette vidéo correspond à {s} % de la sienne",
        "ko": "이 동영상의 {q}%가 그녀 동영상의 {s}%와 일치",
    },
    "face-distance": {
        "en": "face distance {d:.2f} (lower is closer)",
        "fr": "distance du visage {d:.2f} (plus bas = plus proche)",
        "ko": "얼굴 거리 {d:.2f} (낮을수록 가까움)",
    },
    "room": {"en": "room", "fr": "salon", "ko": "대화방"},
    "message": {"en": "message", "fr": "message", "ko": "메시지"},
    "sender": {"en": "sender", "fr": "expéditeur", "ko": "보낸 사람"},
    "date": {"en": "date", "fr": "date", "ko": "날짜"},
    "forwarded": {"en": "forwarded from", "fr": "transféré de", "ko": "전달한 곳"},
    "archive": {"en": "archive", "fr": "archive", "ko": "압축 파일"},
    "member": {"en": "archive member", "fr": "fichier de l'archive", "ko": "압축 파일 속 파일"},
    "url": {"en": "address", "fr": "adresse", "ko": "주소"},
    "folder": {"en": "folder", "fr": "dossier", "ko": "폴더"},
    "file": {"en": "file", "fr": "fichier", "ko": "파일"},
    "sightings": {
        "en": "seen {n} time(s)",
        "fr": "vu {n} fois",
        "ko": "{n}번 발견됨",
    },
    "seen": {
        "en": "first seen {first}, last seen {last}",
        "fr": "vu pour la première fois le {first}, la dernière le {last}",
        "ko": "처음 발견 {first}, 마지막 발견 {last}",
    },
}


@dataclass(frozen=True)
class Words:
    """One item in words, in one language."""

    what: str
    how_sure: str
    where: list[tuple[str, str]] = field(default_factory=list)  # (label, value), in order
    when: str = ""
    sightings: str = ""
    synthetic: Any = None  # another part's synthetic-media verdict, when the item has one

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "how_sure": self.how_sure,
            "where": [{"label": k, "value": v} for k, v in self.where],
            "when": self.when,
            "sightings": self.sightings,
        }

    @property
    def where_text(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.where)


def _t(key: str, lang: str, **values: Any) -> str:
    table = _T[key]
    return table.get(lang, table["en"]).format(**values)


# A video found by the robust stage: its method (scan/video_match.py) -> a key of _WHAT
_VIDEO_METHOD_WHAT = {
    "vpdq-mirrored": "turned-video",
    "vpdq-rotated": "turned-video",
    "vpdq-inside-frame": "framed-video",
    "vpdq-crop": "cropped-video",
    "vpdq-pip": "pip-video",
}


def what_key(item: ReviewItem) -> str:
    """The kind of find, as a key of _WHAT (language-free; tests and filters use it)."""
    d = item.details or {}
    if item.kind == "vpdq":
        robust = _VIDEO_METHOD_WHAT.get(str(d.get("method", "")))
        if robust:  # found by the robust stage (signals/video_variants.py)
            return robust
        q, s = d.get("query_percent"), d.get("stored_percent")
        if isinstance(q, int | float) and isinstance(s, int | float) and min(q, s) >= 90:
            return "same-video"
        return "part-video"
    if item.kind == "pdq" and d.get("kind") == "photo in video":
        return "photo-in-video"
    if item.kind == "pdq" and item.transform not in (None, "", "original"):
        return "turned"  # matched once mirrored or turned
    return _METHOD_WHAT.get(item.kind, "look-alike")


def what(item: ReviewItem, lang: str = "en") -> str:
    words = _WHAT[what_key(item)]
    return words.get(lang, words["en"])


def how_sure(item: ReviewItem, lang: str = "en") -> str:
    """The score with what it means."""
    d = item.details or {}
    if item.kind in ("sha256", "md5"):
        return _t("exact", lang)
    if item.kind == "face":
        return _t("face-distance", lang, d=item.distance)
    if item.kind == "local-features":
        n = item.keypoints
        return _t("keypoints", lang, n=n if n is not None else "?", min=MIN_INLIERS)
    threshold = item.threshold or 31
    dist = int(item.distance)
    if dist <= threshold / 3:
        band = "very-close"
    elif dist <= 2 * threshold / 3:
        band = "close"
    else:
        band = "near-limit"
    text = _t("bits", lang, d=dist, band=_t(band, lang), t=threshold)
    if item.kind == "vpdq" and "stored_percent" in d:
        q, s = d.get("query_percent", 0), d.get("stored_percent", 0)
        text += "; " + _t("video", lang, q=f"{float(q):.0f}", s=f"{float(s):.0f}")
    return text


def where(item: ReviewItem, lang: str = "en") -> list[tuple[str, str]]:
    """Where it was found: a Telegram message (room, message id, sender, date, forwarded
    from), an archive member, an address, or a folder and file."""
    p = item.provenance or {}
    out: list[tuple[str, str]] = []
    for key, label in (
        ("chat", "room"),
        ("message_id", "message"),
        ("from", "sender"),
        ("date", "date"),
        ("forwarded_from", "forwarded"),
        ("archive", "archive"),
        ("member", "member"),
        ("url", "url"),
    ):
        value = p.get(key)
        if value not in (None, ""):
            out.append((_t(label, lang), str(value)))
    if not out:
        path = PurePath(item.file)
        out.append((_t("folder", lang), str(path.parent)))
    out.append((_t("file", lang), PurePath(item.file).name or item.file))
    return out


def _day_time(iso: str | None) -> str:
    return (iso or "?").replace("T", " ")[:16]


def describe(item: ReviewItem, lang: str = "en") -> Words:
    """The item in words, in `lang` (English when it is none of LANGUAGES)."""
    lang = lang if lang in LANGUAGES else "en"
    when = (
        _t("seen", lang, first=_day_time(item.first_seen), last=_day_time(item.last_seen))
        if item.first_seen
        else ""
    )
    return Words(
        what(item, lang),
        how_sure(item, lang),
        where(item, lang),
        when,
        _t("sightings", lang, n=item.sightings),
        getattr(item, "synthetic", None),
    )
