"""Words of the caseworker UI that were wrong: Korean called scans 검색 ("search")."""

from __future__ import annotations

from rempart.web.i18n import catalogue


def test_korean_scans_are_scans_not_searches() -> None:
    ko = catalogue("ko")
    assert ko["nav.scans"] == "스캔" and ko["scans.title"] == "스캔"
    scan_words = {k: v for k, v in ko.items() if k.startswith(("scan.", "scans.", "nav.scans"))}
    assert scan_words and not [k for k, v in scan_words.items() if "검색" in v]
