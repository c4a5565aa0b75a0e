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


def test_report_page_in_french_and_korean(tmp_path: Path) -> None:
    """report.html speaks the reader's language: title, headings, table heads, review
    decisions and AI-signal counts (a caseworker in Paris or Seoul prints it as it is)."""
    from rempart.web.i18n import Translator

    figures = {
        **FIGURES,
        "case": "C-4",
        "review": {"pending": 2, "confirmed": 1},
        "synthetic": {"matches_with_ai_signal": 1, "by_indicates": {"ai-modified": 1}},
    }
    pages = {}
    for lang in ("en", "fr", "ko"):
        out = tmp_path / lang
        stats.write(figures, out, stats.chart_labels(Translator(lang)), pdf=False, lang=lang)
        pages[lang] = (out / "report.html").read_text(encoding="utf-8")
    assert "<h1>Rempart report: Case C-4</h1>" in pages["en"]
    assert "Review decisions: pending 2, confirmed 1" in pages["en"]  # as it always was
    fr, ko = pages["fr"], pages["ko"]
    assert "lang='fr'" in fr and "<h1>Rapport Rempart: Dossier C-4</h1>" in fr
    assert "en attente d'examen 2" in fr and "<th>plateforme</th>" in fr
    assert "Signal : modifié par IA 1" in fr
    assert "<h1>Rempart 보고서: 사건 C-4</h1>" in ko and "검토 대기 2" in ko
    for english in ("Platforms", "platform</th>", "Review decisions", "Charts for printing"):
        assert english not in fr and english not in ko, english
