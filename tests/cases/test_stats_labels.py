"""Chart titles in the reader's language (the web UI passes its catalogue's words)."""

from __future__ import annotations

import warnings
from pathlib import Path

from rempart.cases import stats

FIGURES = {
    "case": None,
    "matches_per_day": {"2026-11-30": 2, "2026-12-01": 5},
    "review": {},
    "platforms": {
        "example": {"sent": 2, "removed": 1, "removal_rate": 0.5, "median_hours_to_removal": 3.0}
    },
    "items_scanned": 9,
}


def test_korean_titles_render_with_a_hangul_font(tmp_path: Path) -> None:
    labels = {
        "matches_per_day": "일별 발견된 일치 항목",
        "matches": "일치 항목",
        "removal_rate": "삭제율 (%)",
        "median_hours": "삭제까지 걸린 시간 (중앙값)",
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = stats.write(FIGURES, tmp_path, labels)
    assert {f.name for f in files} >= {"matches_over_time.png", "platforms.png"}
    assert all(f.stat().st_size > 1000 for f in files if f.suffix == ".png")
    missing = [w for w in caught if "Glyph" in str(w.message) and "missing" in str(w.message)]
    assert not missing, missing[0].message  # the machine's Hangul font was used
