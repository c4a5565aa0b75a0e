"""`rempart report`: per-case and overall statistics with charts (matplotlib, PNG + HTML):
matches over time, removal rate and median time to removal per platform."""

from __future__ import annotations

import html
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rempart.cases.notices import removal_times
from rempart.store.db import Database
from rempart.store.models import BankItem, Case, FaceMatch, FaceTemplate, Match, Notice, ScanItem


def collect(
    db: Database, case: str | None = None, cases: Collection[str] | None = None
) -> dict[str, Any]:
    """Figures for one case, for the cases named in `cases` (an organisation's: the web UI),
    or for all."""
    per_day: Counter[str] = Counter()
    review: Counter[str] = Counter()
    with db.session() as s:
        q = (
            select(Match.created_at, Match.review_status)
            .join(BankItem, Match.bank_item_id == BankItem.id)
            .outerjoin(Case, BankItem.case_id == Case.id)
        )
        fq = (
            select(FaceMatch.created_at, FaceMatch.review_status)
            .join(FaceTemplate, FaceMatch.template_id == FaceTemplate.id)
            .join(Case, FaceTemplate.case_id == Case.id)
        )
        nq = select(Notice)
        if case:
            q, fq = q.where(Case.number == case), fq.where(Case.number == case)
            nq = nq.join(Case, Notice.case_id == Case.id).where(Case.number == case)
        elif cases is not None:
            q, fq = q.where(Case.number.in_(list(cases))), fq.where(Case.number.in_(list(cases)))
            nq = nq.join(Case, Notice.case_id == Case.id).where(Case.number.in_(list(cases)))
        for at, status in list(s.execute(q)) + list(s.execute(fq)):
            per_day[at.date().isoformat()] += 1
            review[status] += 1
        by_platform: dict[str, Counter[str]] = defaultdict(Counter)
        for n in s.scalars(nq):
            by_platform[n.platform][n.status] += 1
        scanned = s.scalar(select(ScanItem.id).order_by(ScanItem.id.desc()).limit(1)) or 0
    wanted = [case] if case else (list(cases) if cases is not None else None)
    times = removal_times(db, wanted)
    verified = removal_times(db, wanted, verified=True)  # by a fetch (cases/removal_check)
    platforms = {}
    for p, counts in sorted(by_platform.items()):
        sent = sum(v for k, v in counts.items() if k != "draft")
        platforms[p] = {
            "notices": sum(counts.values()),
            "sent": sent,
            "removed": counts.get("removed", 0),
            "removal_rate": round(counts.get("removed", 0) / sent, 3) if sent else None,
            "median_hours_to_removal": round(statistics.median(times[p]), 1)
            if times.get(p)
            else None,
            "removed_verified": len(verified.get(p, [])),
            "median_hours_to_verified_removal": round(statistics.median(verified[p]), 1)
            if verified.get(p)
            else None,
            "statuses": dict(counts),
        }
    return {
        "case": case,
        "matches_per_day": dict(sorted(per_day.items())),
        "review": dict(review),
        "platforms": platforms,
        "items_scanned": scanned,
    }


def counts_text(counts: dict[str, int]) -> str:
    """Counts for people ("pending 2, confirmed 1"), never a raw dict."""
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


CHART_LABELS = {
    "matches_per_day": "Matches found per day",
    "matches": "matches",
    "removal_rate": "Removal rate (%)",
    "median_hours": "Median hours to removal",
}


HANGUL_FONTS = ("NanumGothic", "Noto Sans CJK KR")
FONT_DIRS = ("/usr/share/fonts/truetype/nanum", "/usr/share/fonts/opentype/noto")


def _hangul_fonts(font_manager: Any) -> list[str]:
    """Families that can draw Korean, registering the system's files when matplotlib's
    font cache predates their installation."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    if not known & set(HANGUL_FONTS):
        for folder in FONT_DIRS:
            for path in sorted(Path(folder).glob("*")):
                if path.suffix.lower() in (".ttf", ".otf", ".ttc") and (
                    "NanumGothic" in path.name or "CJK" in path.name
                ):
                    try:
                        font_manager.fontManager.addfont(str(path))
                    except (OSError, RuntimeError, ValueError):
                        continue
        known = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in HANGUL_FONTS if f in known]


def write(stats: dict[str, Any], out: Path, labels: dict[str, str] | None = None) -> list[Path]:
    """Charts (PNG), the figures (JSON) and a page (HTML); `labels`: the charts' titles in
    the reader's language (keys of CHART_LABELS; English by default)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    words = {**CHART_LABELS, **(labels or {})}
    fonts = ["DejaVu Sans", *_hangul_fonts(font_manager)]

    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    days = [date.fromisoformat(d) for d in stats["matches_per_day"]]
    plt.rcParams["font.family"] = fonts  # Korean titles fall back to a Hangul font
    fig, ax = plt.subplots(figsize=(7, 3))
    # dates go through matplotlib's unit converters, which its type stubs do not describe
    ax.bar(days, list(stats["matches_per_day"].values()), color="#4b6cb7")  # type: ignore[arg-type]
    ax.set_title(words["matches_per_day"])
    ax.set_ylabel(words["matches"])
    fig.autofmt_xdate()
    fig.tight_layout()
    files.append(out / "matches_over_time.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    names = list(stats["platforms"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    rates = [100 * (stats["platforms"][p]["removal_rate"] or 0) for p in names]
    hours = [stats["platforms"][p]["median_hours_to_removal"] or 0 for p in names]
    axes[0].bar(names, rates, color="#2e8b57")
    axes[0].set_title(words["removal_rate"])
    axes[0].set_ylim(0, 100)
    axes[1].bar(names, hours, color="#b8860b")
    axes[1].set_title(words["median_hours"])
    fig.tight_layout()
    files.append(out / "platforms.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    (out / "stats.json").write_text(json.dumps(stats, indent=2))

    def row(p: str, v: dict[str, Any]) -> str:
        rate = "" if v["removal_rate"] is None else f"{100 * v['removal_rate']:.0f}%"
        hours = "" if v["median_hours_to_removal"] is None else v["median_hours_to_removal"]
        vhours = v.get("median_hours_to_verified_removal")
        return (
            f"<tr><td>{html.escape(p)}</td><td>{v['sent']}</td><td>{v['removed']}</td>"
            f"<td>{v.get('removed_verified', 0)}</td>"
            f"<td>{rate}</td><td>{hours}</td><td>{'' if vhours is None else vhours}</td></tr>"
        )

    rows = "".join(row(p, v) for p, v in stats["platforms"].items())
    title = f"Case {stats['case']}" if stats["case"] else "All cases"
    page = (
        f"<!doctype html><meta charset='utf-8'><title>Rempart report</title>"
        f"<h1>Rempart report: {html.escape(title)}</h1>"
        f"<p>Review decisions: {html.escape(counts_text(stats['review']))}</p>"
        "<img src='matches_over_time.png' alt='matches per day'>"
        "<h2>Platforms</h2><table border=1 cellpadding=4><tr><th>platform</th><th>sent"
        "</th><th>removed</th><th>verified by fetch</th><th>removal rate</th>"
        "<th>median hours to removal</th><th>median hours, verified</th></tr>"
        f"{rows}</table><img src='platforms.png' alt='removal per platform'>\n"
    )
    files.append(out / "report.html")
    files[-1].write_text(page, encoding="utf-8")
    return files
