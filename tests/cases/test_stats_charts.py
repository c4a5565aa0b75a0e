"""Charts worth reading: bins that match their title (per day with the empty days, per week
over a long range), removal times with their spread (median and 90th percentile, verified
by fetch apart from by hand, per month sent), empty states in words instead of an empty
axis, in English, French and Korean, in the PNGs, the HTML report, the PDF and the web page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from fastapi.testclient import TestClient

from rempart.cases import stats
from rempart.store.db import Database
from rempart.store.models import Case, Notice
from tests.conftest import migrated_sqlite_url

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SENT = datetime(2026, 10, 5, 9, 0)


def add_notices(db: Database, number: str, rows: list[tuple[str, datetime, float, bool]]) -> None:
    """Sent notices of one case: (platform, sent at, hours to removal (negative: not
    removed), verified by fetch)."""
    with db.session() as s:
        case = Case(number=number)
        s.add(case)
        s.flush()
        for platform, sent, hours, verified in rows:
            removed = hours >= 0
            s.add(
                Notice(
                    case_id=case.id,
                    platform=platform,
                    language="en",
                    jurisdictions=[],
                    items=[],
                    text="",
                    status="removed" if removed else "sent",
                    sent_at=sent,
                    removed_at=sent + timedelta(hours=hours) if removed else None,
                    removal_verified=verified,
                )
            )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A real (SQLite) database: platform 'lab' removed after 1..10 hours (five verified by
    fetch: 1, 3, 5, 7, 9), one notice to 'slow' never removed; October and November."""
    database = Database(migrated_sqlite_url(tmp_path_factory.mktemp("stats") / "r.db"))
    rows = [("lab", SENT, float(h), h % 2 == 1) for h in range(1, 11)]
    rows[9] = ("lab", datetime(2026, 11, 2, 8, 0), 10.0, False)  # sent in November
    rows.append(("slow", SENT, -1.0, False))
    add_notices(database, "CASE-S", rows)
    yield database
    database.dispose()


def figures(per_day: dict[str, int]) -> dict[str, Any]:
    return {
        "case": None,
        "matches_per_day": per_day,
        "review": {},
        "platforms": {},
        "items_scanned": 0,
        "matches_binned": stats.bins(per_day),
        "removal_hours": {},
        "removal_by_month": {},
    }


def test_per_day_over_three_days_with_a_gap() -> None:
    binned = stats.bins({"2026-11-30": 2, "2026-12-02": 5})
    assert binned == {
        "unit": "day",
        "bins": [
            {"start": "2026-11-30", "count": 2},
            {"start": "2026-12-01", "count": 0},
            {"start": "2026-12-02", "count": 5},
        ],
    }
    fig = stats.figure_matches(figures({"2026-11-30": 2, "2026-12-02": 5}), stats.CHART_LABELS)
    try:
        ax = fig.axes[0]
        assert [p.get_height() for p in ax.patches] == [2, 0, 5]
        ticks = [matplotlib.dates.num2date(x).date() for x in ax.get_xticks()]
        assert ticks == [date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)]  # day ticks
        assert ax.get_title() == "Matches found per day"
        assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] > 5
    finally:
        plt.close(fig)


def test_per_week_over_a_long_range() -> None:
    first = date(2026, 1, 7)  # a Wednesday
    per_day = {(first + timedelta(days=d)).isoformat(): 1 for d in (0, 1, 60, 119)}
    binned = stats.bins(per_day)
    assert binned["unit"] == "week"
    starts = [date.fromisoformat(b["start"]) for b in binned["bins"]]
    assert starts[0] == date(2026, 1, 5) and all(d.weekday() == 0 for d in starts)
    assert all((b - a).days == 7 for a, b in zip(starts, starts[1:], strict=False))
    assert starts[-1] <= first + timedelta(days=119) < starts[-1] + timedelta(days=7)
    assert len(starts) == 18  # 120 days from a Wednesday: 18 weeks, empty ones as zero
    assert sum(b["count"] for b in binned["bins"]) == 4 and binned["bins"][0]["count"] == 2
    assert sum(1 for b in binned["bins"] if b["count"] == 0) == 15
    fig = stats.figure_matches(figures(per_day), stats.CHART_LABELS)
    try:
        assert fig.axes[0].get_title() == "Matches found per week"
        assert len(fig.axes[0].patches) == 18
    finally:
        plt.close(fig)
    assert stats.bins({"2026-01-01": 1, "2026-03-01": 1})["unit"] == "day"  # 60 days


def test_medians_and_p90_exact(db: Database) -> None:
    data = stats.collect(db)
    lab = data["platforms"]["lab"]
    # 1..10 hours: median 5.5, 90th percentile 9 + 0.1 * (10 - 9) = 9.1
    assert lab["median_hours_to_removal"] == 5.5 and lab["p90_hours_to_removal"] == 9.1
    # verified by fetch: 1 3 5 7 9 -> median 5, p90 7 + 0.6 * 2 = 8.2
    assert lab["removed_verified"] == 5
    assert lab["median_hours_to_verified_removal"] == 5.0
    assert lab["p90_hours_to_verified_removal"] == 8.2
    # by hand: 2 4 6 8 10 -> median 6, p90 8 + 0.6 * 2 = 9.2
    assert lab["removed_by_hand"] == 5
    assert lab["median_hours_to_removal_by_hand"] == 6.0
    assert lab["p90_hours_to_removal_by_hand"] == 9.2
    assert lab["removal_rate"] == 1.0
    slow = data["platforms"]["slow"]
    assert slow["removal_rate"] == 0.0 and slow["p90_hours_to_removal"] is None
    # by month sent: October 1..9 h (median 5, p90 8.2), November one notice of 10 h
    assert data["removal_by_month"] == {
        "2026-10": {"removed": 9, "median_hours": 5.0, "p90_hours": 8.2},
        "2026-11": {"removed": 1, "median_hours": 10.0, "p90_hours": 10.0},
    }
    assert data["removal_hours"]["all"] == {"removed": 10, "median_hours": 5.5, "p90_hours": 9.1}
    assert stats.collect(db, "NO-SUCH-CASE")["platforms"] == {}


def test_report_charts_say_their_numbers(db: Database, tmp_path: Path) -> None:
    files = stats.write(stats.collect(db), tmp_path)
    names = {f.name for f in files}
    assert names >= {"matches_over_time.png", "platforms.png", "removal_over_time.png"}
    assert {"report.html", "report_charts.pdf"} <= names and (tmp_path / "stats.json").is_file()
    pdf = (tmp_path / "report_charts.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 3
    page = (tmp_path / "report.html").read_text("utf-8")
    alts = re.findall(r"alt='([^']*)'", page)
    assert any("lab: Removal rate (%) 100%" in a and "5.5" in a and "9.1" in a for a in alts)
    assert any("2026-10: " in a and "8.2" in a for a in alts)
    assert "No matches yet" in page and "id='empty-matches_over_time'" in page
    assert "<td>9.1</td>" in page  # the 90th percentile in the table
    fig = stats.figure_platforms(stats.collect(db), stats.CHART_LABELS)
    try:
        hours = fig.axes[1]
        hatches = {p.get_hatch() for p in hours.patches}
        colours = {p.get_facecolor()[:3] for p in hours.patches}
        assert hatches == {"//", ".."} and len(colours) == 2  # not colour alone
        labels = [t.get_text() for t in hours.texts]
        assert {"5.5", "9.1", "–"} <= set(labels)  # numbers on the bars; none for 'slow'
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("No matches yet", "No notice sent yet", "No notice removed yet")),
        (
            "fr",
            (
                "Aucune correspondance pour l'instant",
                "Aucune demande envoyée pour l'instant",
                "Aucune demande suivie d'un retrait pour l'instant",
            ),
        ),
        (
            "ko",
            (
                "아직 일치 항목이 없습니다",
                "아직 발송한 요청이 없습니다",
                "아직 삭제된 요청이 없습니다",
            ),
        ),
    ],
)
def test_empty_states_are_words_not_axes(lang: str, words: tuple[str, ...], tmp_path: Path) -> None:
    from rempart.web.i18n import catalogue

    texts = catalogue(lang)
    labels = {k: texts[f"stats.{k}"] for k in ("no_matches", "no_notices", "no_removals")}
    data = figures({})
    assert stats.empty_states(data, labels) == dict(
        zip(("matches_over_time", "platforms", "removal_over_time"), words, strict=True)
    )
    for draw in (stats.figure_matches, stats.figure_platforms, stats.figure_removal_months):
        fig = draw(data, {**stats.CHART_LABELS, **labels})
        try:
            assert all(not ax.axison for ax in fig.axes)  # no axis from -0.04 to 0.04
            assert [t.get_text() for ax in fig.axes for t in ax.texts][0] in words
        finally:
            plt.close(fig)
    if lang == "en":
        stats.write(data, tmp_path, labels, pdf=False)
        page = (tmp_path / "report.html").read_text("utf-8")
        assert all(w in page for w in words) and "report_charts.pdf" not in page


def test_a_zero_median_is_a_bar_not_an_axis() -> None:
    data = figures({"2026-12-01": 1})
    data["platforms"] = {
        "fast": {
            "sent": 1,
            "removed": 1,
            "removal_rate": 1.0,
            "median_hours_to_removal": 0.0,
            "p90_hours_to_removal": 0.0,
        }
    }
    fig = stats.figure_platforms(data, stats.CHART_LABELS)
    try:
        assert fig.axes[1].get_ylim() == (0.0, 1.0)
    finally:
        plt.close(fig)


def test_web_page_verified_column_and_empty_state(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rempart.api import keys
    from rempart.api.settings import ApiSettings
    from rempart.server import create_app

    with db.session() as s:
        admin, _ = keys.create_key(s, "admin", None, label="stats-admin")
    url = str(db.engine.url)
    monkeypatch.setenv("REMPART_WEB_COOKIE_SECURE", "no")
    app = create_app(ApiSettings(db_url=url, home=tmp_path / "home"))
    with TestClient(app, base_url="http://testserver") as c:

        def csrf(text: str) -> str:
            m = re.search(r'name="csrf" value="([^"]+)"', text)
            assert m is not None
            return m.group(1)

        r = c.post("/ui/login", data={"csrf": csrf(c.get("/ui/login").text), "key": admin})
        assert r.status_code in (200, 303), r.text[:300]
        for lang, verified, empty in (
            ("en", "verified by fetch", "No matches yet"),
            ("fr", "vérifiés par consultation", "Aucune correspondance pour l&#39;instant"),
            ("ko", "확인된 삭제", "아직 일치 항목이 없습니다"),
        ):
            c.post("/ui/lang", data={"csrf": csrf(c.get("/ui/").text), "lang": lang})
            page = c.get("/ui/stats").text
            head = page[page.index('id="stats-platforms"') :]
            assert f"<th>{verified}</th>" in head
            row = re.search(r"<tr><td>lab</td>(.*?)</tr>", head, re.S)
            assert row is not None
            cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
            assert cells[:3] == ["10", "10", "5"]  # sent, removed, verified by fetch
            assert "9.1" in cells
            assert f'id="stats-empty-matches" class="empty-state">{empty}<' in page
            assert 'id="chart-removal-months"' in page and "8.2" in page  # alt with figures


def test_report_command_in_french(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from rempart.cli import app

    monkeypatch.setenv("REMPART_DB", str(db.engine.url))
    monkeypatch.setenv("REMPART_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "--out", str(out), "--lang", "fr"])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text("utf-8")
    assert "Aucune correspondance pour l&#x27;instant" in page  # no match in this database
    assert "90e centile, heures" in page and (out / "report_charts.pdf").is_file()
    bad = runner.invoke(app, ["report", "--out", str(out), "--lang", "xx"])
    assert bad.exit_code != 0 and "unknown language 'xx'" in bad.output
