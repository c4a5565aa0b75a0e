"""`rempart report`: per-case and overall statistics with charts (matplotlib, PNG + HTML):
matches over time, removal rate and median time to removal per platform."""

from __future__ import annotations

import html
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rempart.cases import synthetic_signals
from rempart.store.db import Database
from rempart.store.models import BankItem, Case, FaceMatch, FaceTemplate, Match, Notice, ScanItem

WEEKLY_AFTER_DAYS = 60  # a longer range is drawn per week: daily bars would be slivers


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile by linear interpolation between the closest ranks (the method of
    numpy's default and of statistics.quantiles(method="inclusive")): exact and stable
    on a handful of values, which is what a small organisation has."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def spread(hours: list[float]) -> dict[str, Any]:
    """How many, the median and the 90th percentile (hours, one decimal); None when empty."""
    if not hours:
        return {"removed": 0, "median_hours": None, "p90_hours": None}
    return {
        "removed": len(hours),
        "median_hours": round(statistics.median(hours), 1),
        "p90_hours": round(percentile(hours, 90), 1),
    }


def bins(per_day: dict[str, int]) -> dict[str, Any]:
    """Matches per day from the first day to the last, days without a match as zero; per
    ISO week (Monday first) when the range is over WEEKLY_AFTER_DAYS days."""
    if not per_day:
        return {"unit": "day", "bins": []}
    days = {date.fromisoformat(d): n for d, n in per_day.items()}
    first, last = min(days), max(days)
    if (last - first).days + 1 > WEEKLY_AFTER_DAYS:
        start = first - timedelta(days=first.weekday())
        weeks: dict[date, int] = {}
        d = start
        while d <= last:
            weeks[d] = 0
            d += timedelta(days=7)
        for day, n in days.items():
            weeks[day - timedelta(days=day.weekday())] += n
        return {
            "unit": "week",
            "bins": [{"start": d.isoformat(), "count": n} for d, n in weeks.items()],
        }
    span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return {
        "unit": "day",
        "bins": [{"start": d.isoformat(), "count": days.get(d, 0)} for d in span],
    }


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def collect(
    db: Database, case: str | None = None, cases: Collection[str] | None = None
) -> dict[str, Any]:
    """Figures for one case, for the cases named in `cases` (an organisation's: the web UI),
    or for all."""
    per_day: Counter[str] = Counter()
    review: Counter[str] = Counter()
    # hours from first sending to removal: per platform, verified or by hand, and per month
    removals: list[tuple[str, str, bool, float]] = []
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
            if n.removed_at is not None and n.sent_at is not None:
                sent = _aware(n.sent_at)
                hours = (_aware(n.removed_at) - sent).total_seconds() / 3600
                removals.append(
                    (n.platform, sent.strftime("%Y-%m"), bool(n.removal_verified), hours)
                )
        scanned = s.scalar(select(ScanItem.id).order_by(ScanItem.id.desc()).limit(1)) or 0
        synthetic = synthetic_signals.counts(s, case, cases)
    times: dict[str, list[float]] = defaultdict(list)
    verified: dict[str, list[float]] = defaultdict(list)
    by_hand: dict[str, list[float]] = defaultdict(list)
    months: dict[str, list[float]] = defaultdict(list)
    for platform, month, is_verified, hours in removals:
        times[platform].append(hours)
        (verified if is_verified else by_hand)[platform].append(hours)
        months[month].append(hours)
    platforms = {}
    for p, counts in sorted(by_platform.items()):
        sent_count = sum(v for k, v in counts.items() if k != "draft")
        every, fetched, hand = spread(times[p]), spread(verified[p]), spread(by_hand[p])
        platforms[p] = {
            "notices": sum(counts.values()),
            "sent": sent_count,
            "removed": counts.get("removed", 0),
            "removal_rate": round(counts.get("removed", 0) / sent_count, 3) if sent_count else None,
            "median_hours_to_removal": every["median_hours"],
            "removed_verified": fetched["removed"],
            "median_hours_to_verified_removal": fetched["median_hours"],
            "statuses": dict(counts),
            "p90_hours_to_removal": every["p90_hours"],
            "p90_hours_to_verified_removal": fetched["p90_hours"],
            "removed_by_hand": hand["removed"],
            "median_hours_to_removal_by_hand": hand["median_hours"],
            "p90_hours_to_removal_by_hand": hand["p90_hours"],
        }
    every_removal = [h for *_, h in removals]
    return {
        "case": case,
        "matches_per_day": dict(sorted(per_day.items())),
        "review": dict(review),
        "platforms": platforms,
        "items_scanned": scanned,
        "matches_binned": bins(dict(per_day)),
        "removal_hours": {
            "all": spread(every_removal),
            "verified": spread([h for _, _, v, h in removals if v]),
            "by_hand": spread([h for _, _, v, h in removals if not v]),
        },
        "removal_by_month": {m: spread(months[m]) for m in sorted(months)},
        "synthetic": synthetic,  # matches with an AI signal (cases/synthetic_signals.py)
    }


def counts_text(counts: dict[str, int]) -> str:
    """Counts for people ("pending 2, confirmed 1"), never a raw dict."""
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


CHART_LABELS = {
    "matches_per_day": "Matches found per day",
    "matches_per_week": "Matches found per week",
    "matches": "matches",
    "removal_rate": "Removal rate (%)",
    "median_hours": "Median hours to removal",
    "p90_hours": "90th percentile, hours",
    "hours_to_removal": "Hours from sending to removal",
    "hours_by_month": "Hours to removal, by month sent",
    "no_matches": "No matches yet",
    "no_notices": "No notice sent yet",
    "no_removals": "No notice removed yet",
    "in_all": "in all",
    "verified": "verified by fetch",
}


# The report page's own words (`rempart report`'s report.html), English by default; the
# catalogue keys are "stats.<key>", except the review decisions' and the AI signals' own
# ("decision.<status>", "synthetic.<indicates>"), shared with the web UI.
PAGE_WORDS = {
    "report_title": "Rempart report",
    "case_title": "Case",
    "all_cases_title": "All cases",
    "review": "Review decisions",
    "platforms": "Removal per platform",
    "platform": "platform",
    "sent": "Notices sent",
    "removed": "Removed",
    "removal_rate_col": "Removal rate",
    "median_verified": "Median hours, verified by fetch",
    "p90_verified": "90th percentile, verified",
    "median_by_hand": "Median hours, marked by hand",
    "p90_by_hand": "90th percentile, marked by hand",
    "print_charts": "Charts for printing",
    "ai_signals": "Matches with a sign of AI generation or alteration",
    "none": "none",
    "decision.pending": "waiting for review",
    "decision.confirmed": "confirmed (it is her)",
    "decision.not-her": "not her",
    "decision.unsure": "unsure",
    "decision.removed": "removed",
    "synthetic.ai-generated": "AI-generated signal",
    "synthetic.ai-modified": "AI-altered signal",
    "synthetic.provenance-invalid": "provenance invalid",
}


def chart_labels(words: Callable[[str], str]) -> dict[str, str]:
    """The charts' and the report page's words from a catalogue (`words`: key -> text, as
    the web UI's Translator: CHART_LABELS' and PAGE_WORDS' keys under "stats.", those with
    a dot as they are), for the web page and `rempart report --lang`."""
    labels = {k: words(f"stats.{k}") for k in CHART_LABELS}
    labels["removal_rate"] += " (%)"
    labels |= {k: words(k if "." in k else f"stats.{k}") for k in PAGE_WORDS}
    return labels


def _counted(counts: dict[str, int], w: dict[str, str], prefix: str) -> str:
    """Counts in the reader's words ("en attente d'examen 2, confirmée (c'est elle) 1")."""
    return ", ".join(f"{w.get(prefix + k, k)} {v}" for k, v in counts.items()) or w["none"]


# Okabe & Ito's palette, told apart by the common colour-blindnesses; bars also differ by
# hatching and carry their numbers, so that colour is never the only cue.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
}


def empty_states(stats: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, str]:
    """The charts that have nothing to draw, each with the sentence drawn instead of an
    empty axis (keys: the PNG files' stems)."""
    words = {**CHART_LABELS, **(labels or {})}
    out: dict[str, str] = {}
    if not any(b["count"] for b in _binned(stats)["bins"]):
        out["matches_over_time"] = words["no_matches"]
    if not stats["platforms"]:
        out["platforms"] = words["no_notices"]
    if not stats.get("removal_by_month"):
        out["removal_over_time"] = words["no_removals"]
    return out


def _binned(stats: dict[str, Any]) -> dict[str, Any]:
    # figures written before the bins were added (a stats.json kept from then) still draw
    return stats.get("matches_binned") or bins(stats.get("matches_per_day", {}))


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def alt_texts(stats: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, str]:
    """What each chart shows, numbers and all, for people who cannot see it."""
    words = {**CHART_LABELS, **(labels or {})}
    empty = empty_states(stats, labels)
    binned = _binned(stats)
    title = words["matches_per_week" if binned["unit"] == "week" else "matches_per_day"]
    counts = binned["bins"]
    total = sum(b["count"] for b in counts)
    listed = "; ".join(f"{b['start']}: {b['count']}" for b in counts if b["count"])
    out = {
        "matches_over_time": empty.get("matches_over_time")
        or f"{title}, {counts[0]['start']} – {counts[-1]['start']}: {listed} "
        f"({total} {words['matches']} {words['in_all']})",
    }
    platforms = []
    for p, v in stats["platforms"].items():
        rate = "–" if v["removal_rate"] is None else f"{100 * v['removal_rate']:.0f}%"
        platforms.append(
            f"{p}: {words['removal_rate']} {rate}, {words['median_hours']} "
            f"{_hours(v['median_hours_to_removal'])}, {words['p90_hours']} "
            f"{_hours(v.get('p90_hours_to_removal'))}"
        )
    out["platforms"] = empty.get("platforms") or "; ".join(platforms)
    months = [
        f"{m}: {words['median_hours']} {_hours(v['median_hours'])}, "
        f"{words['p90_hours']} {_hours(v['p90_hours'])} ({v['removed']})"
        for m, v in stats.get("removal_by_month", {}).items()
    ]
    out["removal_over_time"] = empty.get("removal_over_time") or (
        f"{words['hours_by_month']}: " + "; ".join(months)
    )
    return out


def _sentence(fig: Any, text: str) -> None:
    """An empty state: the words alone, no axis (an empty one read as data from -0.04)."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=14, transform=ax.transAxes)


def _label_bars(ax: Any, bars: Any, fmt: str = "{:g}") -> None:
    ax.bar_label(bars, labels=[fmt.format(b.get_height()) for b in bars], fontsize=8, padding=2)


def figure_matches(stats: dict[str, Any], words: dict[str, str]) -> Any:
    """Matches per day (or per week) on a date axis: one bar per bin, zero bins drawn as
    zero, ticks on the bins' days when there are few."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig = plt.figure(figsize=(7, 3))
    binned = _binned(stats)
    empty = empty_states(stats, words)
    if "matches_over_time" in empty:
        _sentence(fig, empty["matches_over_time"])
        return fig
    ax = fig.add_subplot()
    starts = [date.fromisoformat(b["start"]) for b in binned["bins"]]
    counts = [b["count"] for b in binned["bins"]]
    weekly = binned["unit"] == "week"
    # a week's bar spans its seven days, left-aligned on its Monday
    width = 6.0 if weekly else 0.8
    bars = ax.bar(  # dates go through matplotlib's unit converters (not in its stubs)
        starts,  # type: ignore[arg-type]
        counts,
        width=width,
        align="edge" if weekly else "center",
        color=OKABE_ITO["blue"],
        edgecolor="black",
        linewidth=0.5,
    )
    if len(starts) <= 31:
        _label_bars(ax, bars)
    if len(starts) <= 14:
        ax.set_xticks(starts)  # type: ignore[arg-type]
    else:
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    pad = 7 if weekly else 1
    ax.set_xlim(starts[0] - timedelta(days=pad), starts[-1] + timedelta(days=pad))  # type: ignore[arg-type]
    ax.set_ylim(0, max(counts) * 1.2 + 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(words["matches_per_week" if weekly else "matches_per_day"])
    ax.set_ylabel(words["matches"])
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _hours_bars(
    ax: Any,
    names: list[str],
    medians: list[float | None],
    p90s: list[float | None],
    words: dict[str, str],
) -> None:
    """Median and 90th percentile side by side: two colours, two hatchings, numbers on top."""
    xs = list(range(len(names)))
    for offset, values, colour, hatch, label in (
        (-0.2, medians, OKABE_ITO["orange"], "//", words["median_hours"]),
        (0.2, p90s, OKABE_ITO["blue"], "..", words["p90_hours"]),
    ):
        heights = [v or 0 for v in values]
        bars = ax.bar(
            [x + offset for x in xs],
            heights,
            width=0.4,
            color=colour,
            hatch=hatch,
            edgecolor="black",
            linewidth=0.5,
            label=label,
        )
        ax.bar_label(bars, labels=[_hours(v) for v in values], fontsize=8, padding=2)
    ax.set_xticks(xs, names)
    top = max([v or 0 for v in (*medians, *p90s)], default=0)
    ax.set_ylim(0, top * 1.25 + 1)  # a zero median is a bar of zero, not an axis around 0
    ax.legend(fontsize=8, loc="upper left")


def figure_platforms(stats: dict[str, Any], words: dict[str, str]) -> Any:
    """Per platform: the removal rate, and the hours to removal (median and 90th
    percentile); the words instead when there is nothing to draw."""
    import matplotlib.pyplot as plt

    empty = empty_states(stats, words)
    if "platforms" in empty:
        fig = plt.figure(figsize=(9, 3))
        _sentence(fig, empty["platforms"])
        return fig
    names = list(stats["platforms"])
    values = list(stats["platforms"].values())
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    rates = [None if v["removal_rate"] is None else 100 * v["removal_rate"] for v in values]
    bars = axes[0].bar(
        names,
        [r or 0 for r in rates],
        color=OKABE_ITO["green"],
        hatch="xx",
        edgecolor="black",
        linewidth=0.5,
    )
    axes[0].bar_label(
        bars, labels=["–" if r is None else f"{r:.0f}%" for r in rates], fontsize=8, padding=2
    )
    axes[0].set_title(words["removal_rate"])
    axes[0].set_ylim(0, 115)
    if not any(v.get("median_hours_to_removal") is not None for v in values):
        axes[1].set_axis_off()
        axes[1].text(0.5, 0.5, words["no_removals"], ha="center", va="center", fontsize=12)
    else:
        _hours_bars(
            axes[1],
            names,
            [v["median_hours_to_removal"] for v in values],
            [v.get("p90_hours_to_removal") for v in values],
            words,
        )
        axes[1].set_title(words["hours_to_removal"])
    fig.tight_layout()
    return fig


def figure_removal_months(stats: dict[str, Any], words: dict[str, str]) -> Any:
    """Hours to removal by the month the notice was sent: is it getting faster?"""
    import matplotlib.pyplot as plt

    empty = empty_states(stats, words)
    fig = plt.figure(figsize=(7, 3))
    if "removal_over_time" in empty:
        _sentence(fig, empty["removal_over_time"])
        return fig
    ax = fig.add_subplot()
    months = stats["removal_by_month"]
    _hours_bars(
        ax,
        list(months),
        [v["median_hours"] for v in months.values()],
        [v["p90_hours"] for v in months.values()],
        words,
    )
    ax.set_title(words["hours_by_month"])
    fig.tight_layout()
    return fig


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


def write(
    stats: dict[str, Any],
    out: Path,
    labels: dict[str, str] | None = None,
    *,
    pdf: bool = True,
    lang: str = "en",
) -> list[Path]:
    """Charts (PNG), the figures (JSON), a page (HTML) and the same charts in a PDF;
    `labels`: the charts' words in the reader's language (keys of CHART_LABELS; English
    by default); `pdf`: False where the PDF is not wanted (the web page)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.backends.backend_pdf import PdfPages

    words = {**CHART_LABELS, **(labels or {})}
    fonts = ["DejaVu Sans", *_hangul_fonts(font_manager)]

    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    plt.rcParams["font.family"] = fonts  # Korean titles fall back to a Hangul font
    plt.rcParams["pdf.fonttype"] = 42  # TrueType in the PDF: Hangul and accents kept
    figures = {
        "matches_over_time": figure_matches(stats, words),
        "platforms": figure_platforms(stats, words),
        "removal_over_time": figure_removal_months(stats, words),
    }
    for name, fig in figures.items():
        files.append(out / f"{name}.png")
        fig.savefig(files[-1], dpi=100)
    if pdf:
        with PdfPages(out / "report_charts.pdf") as pages:
            for fig in figures.values():
                pages.savefig(fig)
    for fig in figures.values():
        plt.close(fig)
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    alts = alt_texts(stats, labels)
    empty = empty_states(stats, labels)

    def row(p: str, v: dict[str, Any]) -> str:
        rate = "" if v["removal_rate"] is None else f"{100 * v['removal_rate']:.0f}%"
        cells = [
            v["median_hours_to_removal"],
            v.get("p90_hours_to_removal"),
            v.get("median_hours_to_verified_removal"),
            v.get("p90_hours_to_verified_removal"),
            v.get("median_hours_to_removal_by_hand"),
            v.get("p90_hours_to_removal_by_hand"),
        ]
        hours = "".join(f"<td>{'' if c is None else c}</td>" for c in cells)
        return (
            f"<tr><td>{html.escape(p)}</td><td>{v['sent']}</td><td>{v['removed']}</td>"
            f"<td>{v.get('removed_verified', 0)}</td><td>{rate}</td>{hours}</tr>"
        )

    def chart(name: str) -> str:
        img = f"<img src='{name}.png' alt='{html.escape(alts[name], quote=True)}'>"
        if name in empty:
            return f"<p class='empty' id='empty-{name}'>{html.escape(empty[name])}</p>{img}"
        return img

    rows = "".join(row(p, v) for p, v in stats["platforms"].items())
    w = {**PAGE_WORDS, **words}

    def e(text: str) -> str:  # text between tags
        return html.escape(text, quote=False)

    title = f"{w['case_title']} {stats['case']}" if stats["case"] else w["all_cases_title"]
    headers = (
        "platform",
        "sent",
        "removed",
        "verified",
        "removal_rate_col",
        "median_hours",
        "p90_hours",
        "median_verified",
        "p90_verified",
        "median_by_hand",
        "p90_by_hand",
    )
    # English keeps the status names it always printed ("pending 2"): scripts read them
    review = (
        counts_text(stats["review"]) if lang == "en" else _counted(stats["review"], w, "decision.")
    )
    ai = stats.get("synthetic") or {}
    ai_line = ""
    if ai.get("matches_with_ai_signal"):
        kinds = _counted(ai.get("by_indicates") or {}, w, "synthetic.")
        ai_line = f"<p id='ai-signals'>{e(w['ai_signals'])}: {ai['matches_with_ai_signal']}"
        ai_line += f" ({e(kinds)})</p>"
    page = (
        f"<!doctype html><html lang='{html.escape(lang)}'><meta charset='utf-8'>"
        f"<title>{e(w['report_title'])}</title>"
        f"<h1>{e(w['report_title'])}: {e(title)}</h1>"
        f"<p>{e(w['review'])}: {e(review)}</p>{ai_line}"
        f"{chart('matches_over_time')}"
        f"<h2>{e(w['platforms'])}</h2><table border=1 cellpadding=4><tr>"
        + "".join(f"<th>{e(w[h])}</th>" for h in headers)
        + f"</tr>{rows}</table>{chart('platforms')}"
        f"<h2>{e(words['hours_by_month'])}</h2>{chart('removal_over_time')}"
        + (
            f"<p>{e(w['print_charts'])}: <a href='report_charts.pdf'>report_charts.pdf</a></p>"
            if pdf
            else ""
        )
        + "\n"
    )
    files.append(out / "report.html")
    files[-1].write_text(page, encoding="utf-8")
    if pdf:
        files.append(out / "report_charts.pdf")
    return files
