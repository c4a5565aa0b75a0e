"""What people read: counts, not Python dicts (report.html and `case show` printed
{'pending': 2}); keypoint matches as agreeing keypoints, not "distance 124/128"."""

from __future__ import annotations

import json

import pytest

from rempart.cases.evidence import _report_lines
from rempart.cases.review import ReviewItem
from tests.cases.test_review import rempart
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases


def test_case_show_and_report_print_counts(review_case: Restored) -> None:
    rempart_env = review_case.path  # scanned_case: C-9 with two pending matches
    out = rempart("case", "show", "C-9")
    assert "Matches: pending 2." in out and "{" not in out and "}" not in out
    rempart("report", "--out", str(rempart_env / "r"))
    page = (rempart_env / "r" / "report.html").read_text()
    assert "Review decisions: pending 2" in page and "{&#x27;" not in page and "{&quot;" not in page


def _keypoint_item() -> ReviewItem:
    return ReviewItem(
        "m3",
        "confirmed",
        "C-1",
        "/x.jpg",
        "local-features",
        124.0,
        {"bank": "b", "local_features": {"inliers": 57}},
        {},
        "cw",
        "hers",
    )


def test_keypoint_matches_are_agreeing_keypoints() -> None:
    item = _keypoint_item()
    assert item.keypoints == 57 and item.measure == "57 agreeing keypoints"
    plain = ReviewItem("m4", "pending", "C-1", "/y.jpg", "pdq", 12.0, {}, {}, None, None)
    assert plain.keypoints is None and plain.measure == "distance 12"
    doc = {
        "package_id": "p",
        "created_at": "t",
        "created_by": "cw",
        "generator": "g",
        "match": {
            "ref": "m3",
            "kind": item.kind,
            "distance": item.distance,
            "measure": item.measure,
            "case": "C-1",
            "details": {},
            "review": {"status": "confirmed", "by": "cw", "at": "t", "reason": "r"},
        },
        "found": {
            "locator": "/x.jpg",
            "media_type": "image",
            "width": 1,
            "height": 1,
            "sha256": "s",
            "md5": "m",
            "pdq": "p",
            "pdq_quality": 90,
            "scan_id": 1,
            "scanned_at": "t",
            "provenance": {},
        },
    }
    text = "\n".join(_report_lines(doc))
    assert "57 agreeing keypoints" in text and "distance" not in text


def test_review_list_json_unchanged(review_case: Restored) -> None:  # after scanned_case
    items = json.loads(rempart("review", "list", "--format", "json"))
    assert all("distance" in i and "kind" in i for i in items)
