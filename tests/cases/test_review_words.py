"""The review queue's words (rempart.cases.review_words): what was found for each method,
how sure, where (a Telegram message, an archive member, an address, a folder), when and how
often, in English, French and Korean. The scanned items behind them are in
tests/web/test_review_context.py; here each method's item is written out, as the queue gives
it, so that every method is covered without the robust stage's scans."""

from __future__ import annotations

from typing import Any

import pytest

from rempart.cases.queue import ReviewItem
from rempart.cases.review_words import describe, what_key


def item(kind: str, distance: float = 0, **extra: Any) -> ReviewItem:
    fields: dict[str, Any] = {
        "ref": "m1",
        "status": "pending",
        "case": "CASE-A",
        "file": "/scans/inbox/batch/found.jpg",
        "kind": kind,
        "distance": distance,
        "details": {"bank": "ncii"},
        "provenance": {},
        "reviewed_by": None,
        "reason": None,
        "sightings": 3,
        "first_seen": "2026-03-01T10:00:00",
        "last_seen": "2026-03-04T18:30:00",
        "threshold": 31,
    }
    fields.update(extra)
    return ReviewItem(**fields)


@pytest.mark.parametrize(
    ("found", "key", "words"),
    [
        (item("sha256"), "exact", "exact copy"),
        (item("md5"), "exact", "exact copy"),
        (item("pdq", 12), "look-alike", "look-alike"),
        (item("pdq", 12, transform="original"), "look-alike", "look-alike"),
        (item("pdq", 4, transform="mirror"), "turned", "mirrored/turned copy"),
        (item("pdq-crop", 8), "crop", "cropped copy"),
        (item("pdq-trimmed", 8), "frame", "her photo inside a frame"),
        (item("pdq-rotation", 8), "turned", "mirrored/turned copy"),
        (item("pdq-deskewed", 8), "turned", "mirrored/turned copy"),
        (item("pdq-region", 8), "part", "part of her photo — the rest replaced"),
        (
            item("local-features", 0.25, details={"local_features": {"inliers": 48}}),
            "part",
            "part of her photo — the rest replaced",
        ),
        (item("face", 0.31), "face", "her face"),
        (
            item("vpdq", 6, details={"query_percent": 100.0, "stored_percent": 97.0}),
            "same-video",
            "same video",
        ),
        (
            item("vpdq", 6, details={"query_percent": 30.0, "stored_percent": 12.0}),
            "part-video",
            "part of her video",
        ),
        (
            item("pdq", 6, details={"kind": "photo in video"}),
            "photo-in-video",
            "her photo inside a video",
        ),
        (
            item("vpdq", 9, details={"method": "vpdq-mirrored", "query_percent": 95.0}),
            "turned-video",
            "her video, mirrored or turned",
        ),
        (
            item("vpdq", 9, details={"method": "vpdq-inside-frame"}),
            "framed-video",
            "her video inside a frame",
        ),
        (
            item("vpdq", 9, details={"method": "vpdq-crop"}),
            "cropped-video",
            "cropped copy of her video",
        ),
        (
            item("vpdq", 9, details={"method": "vpdq-pip"}),
            "pip-video",
            "her video in a corner of another video",
        ),
        (
            item(
                "vpdq",
                6,
                details={"method": "vpdq", "query_percent": 100.0, "stored_percent": 97.0},
            ),
            "same-video",
            "same video",
        ),
    ],
)
def test_each_method_says_what_was_found(found: ReviewItem, key: str, words: str) -> None:
    assert what_key(found) == key
    assert describe(found).what == words


def test_how_sure_explains_the_score() -> None:
    assert describe(item("pdq", 12)).how_sure == (
        "distance 12 of 256 bits: close; matches start at 31"
    )
    assert "very close" in describe(item("pdq", 3)).how_sure
    assert "near the limit" in describe(item("pdq", 29)).how_sure
    lf = item("local-features", 0.25, details={"local_features": {"inliers": 48}})
    assert describe(lf).how_sure == "48 agreeing keypoints (a match needs at least 12)"
    assert "certain" in describe(item("sha256")).how_sure
    video = item("vpdq", 6, details={"query_percent": 30.0, "stored_percent": 12.0})
    assert "30% of this video matches 12% of hers" in describe(video).how_sure
    assert "lower is closer" in describe(item("face", 0.31)).how_sure


def test_where_when_and_how_often() -> None:
    telegram = item(
        "sha256",
        provenance={
            "source": "telegram",
            "chat": "Room Kappa",
            "message_id": 41,
            "from": "Sender One",
            "date": "2024-03-02T12:00:41",
            "forwarded_from": "Channel Z",
        },
    )
    w = describe(telegram)
    assert w.where[:5] == [
        ("room", "Room Kappa"),
        ("message", "41"),
        ("sender", "Sender One"),
        ("date", "2024-03-02T12:00:41"),
        ("forwarded from", "Channel Z"),
    ]
    assert w.when == "first seen 2026-03-01 10:00, last seen 2026-03-04 18:30"
    assert w.sightings == "seen 3 time(s)"
    member = describe(item("pdq", 5, provenance={"archive": "/in/a.zip", "member": "x/y.jpg"}))
    assert ("archive member", "x/y.jpg") in member.where
    url = describe(item("pdq", 5, provenance={"source": "url", "url": "https://example.org/p"}))
    assert ("address", "https://example.org/p") in url.where
    folder = describe(item("pdq", 5))
    assert folder.where == [("folder", "/scans/inbox/batch"), ("file", "found.jpg")]
    assert set(w.as_dict()) == {"what", "how_sure", "where", "when", "sightings"}


def test_french_and_korean_words() -> None:
    crop = item("pdq-crop", 8, provenance={"chat": "Salon"})
    fr, ko = describe(crop, "fr"), describe(crop, "ko")
    assert fr.what == "copie recadrée" and ko.what == "잘라낸 사본"
    assert fr.how_sure.startswith("distance 8 sur 256 bits") and "256비트 중 거리 8" in ko.how_sure
    assert ("salon", "Salon") in fr.where and ("대화방", "Salon") in ko.where
    assert fr.sightings == "vu 3 fois" and ko.sightings == "3번 발견됨"
    assert describe(crop, "xx").what == "cropped copy"  # an unknown language: English
