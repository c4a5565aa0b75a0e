"""`rempart detector check|measure`: the optional learned detector's config (docs/synthetic.md,
"Learned detector (optional)").

Why these commands: a learned score means nothing without the rate at which the model flags
real photos, so Rempart shows a learned-detector finding only beside its measured
false-positive rate. `measure` runs the model over a folder of real photos (and, when given,
known generated pictures) and writes the rates, with 95% Wilson intervals, the set and the
date, into the config; `check` proves the config usable before anyone relies on it (the
model's SHA-256, OpenCV loads it, one inference on a grey picture, and whether it is
measured). Neither needs a database. The detector itself runs only when
REMPART_LEARNED_DETECTOR names the config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rempart.cli.core import EXIT_SKIPPED, detector_app, err, fail, names, out, progress_bar
from rempart.lazy import lazy_module
from rempart.textsafe import safe

if TYPE_CHECKING:
    from rempart.signals.synthetic.learned import LearnedDetector
    from rempart.signals.synthetic.learned_config import Measurement
    from rempart.signals.synthetic.learned_measure import Scored

learned = lazy_module("rempart.signals.synthetic.learned")
learned_config = lazy_module("rempart.signals.synthetic.learned_config")
learned_measure = lazy_module("rempart.signals.synthetic.learned_measure")
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ConfigOption = Annotated[
    Path, typer.Option("--config", help="The detector's TOML config (docs/synthetic.md).")
]
FEW_NEGATIVES = 300  # under this, the summary says the interval is wide


def _measurement_json(m: Measurement) -> dict[str, Any]:
    data: dict[str, Any] = {
        "false_positive_rate": m.false_positive_rate,
        "false_positive_rate_95": list(m.false_positive_rate_95),
        "negatives": m.negatives,
        "false_positives": m.false_positives,
        "measured_on": m.measured_on,
        "measured_at": m.measured_at,
        "threshold": m.threshold,
        "sha256": m.sha256,
        "unreadable": m.unreadable,
    }
    if m.true_positive_rate is not None:
        data |= {
            "true_positive_rate": m.true_positive_rate,
            "true_positive_rate_95": list(m.true_positive_rate_95 or (0.0, 1.0)),
            "positives": m.positives,
            "true_positives": m.true_positives,
            "positives_on": m.positives_on,
        }
    return data


def _rate(k: int, n: int, interval: tuple[float, float], what: str) -> str:
    return (
        f"{k / n:.2%} ({k} of {n} {what} flagged; 95% interval {interval[0]:.2%} to "
        f"{interval[1]:.2%})"
    )


@detector_app.command("check")
def detector_check(config: ConfigOption, as_json: Json = False) -> None:
    """Validate a config: the model file's SHA-256, OpenCV loads it, one inference on a grey
    picture; say whether its false-positive rate is measured (findings are refused until it
    is). Exit 1 when the model cannot be used."""
    cfg = learned_config.load_config(config)
    grey_score = learned.check(cfg)
    ready, why = True, ""
    try:
        cfg.require_measurement()
    except learned_config.LearnedDetectorError as exc:
        ready, why = False, exc.message
    m = cfg.measurement
    if as_json:
        result = {
            "config": str(config),
            "model": cfg.name,
            "model_path": str(cfg.model_path),
            "sha256": cfg.sha256,
            "sha256_ok": True,
            "loaded": True,
            "input": [cfg.width, cfg.height],
            "threshold": cfg.threshold,
            "grey_score": grey_score,
            "measurement": _measurement_json(m) if m is not None else None,
            "ready": ready,
        }
        if not ready:
            result["not_ready"] = why
        out.print_json(json.dumps(result, ensure_ascii=False))
        return
    out.print(f"model {safe(cfg.name)}: {safe(cfg.model_path)}", highlight=False)
    out.print(f"  sha256 {cfg.sha256}: matches the file", highlight=False)
    out.print(
        f"  loaded by OpenCV; a grey {cfg.width}x{cfg.height} picture scores "
        f"{grey_score:.4f} (threshold {cfg.threshold})",
        highlight=False,
    )
    if m is not None and ready:
        rate = _rate(m.false_positives, m.negatives, m.false_positive_rate_95, "real photos")
        out.print(
            f"  measured: false-positive rate {rate} on {safe(m.measured_on)} "
            f"({safe(m.measured_at)})",
            highlight=False,
        )
        out.print(f"ready: set REMPART_LEARNED_DETECTOR={safe(config)} to run it", highlight=False)
    else:
        err.print(f"[yellow]not ready:[/] {safe(why)}", highlight=False)


def _score(
    detector: LearnedDetector, folders: list[tuple[str, list[Path]]]
) -> dict[str, list[Scored]]:
    total = sum(len(files) for _, files in folders)
    scored: dict[str, list[Scored]] = {label: [] for label, _ in folders}
    with progress_bar() as progress:
        task = progress.add_task("scoring", total=total, current="")
        for label, files in folders:
            for item in learned_measure.score_all(detector, files):
                scored[label].append(item)
                progress.update(task, current=safe(item.path.name)[:40])
                progress.advance(task)
    return scored


def _pictures(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise fail(f"{what} folder {safe(folder)} is not a folder")
    files = list(learned_measure.pictures(folder))
    if not files:
        raise fail(f"{what} folder {safe(folder)} holds no picture")
    return files


@detector_app.command("measure")
def detector_measure(
    config: ConfigOption,
    negatives: Annotated[
        Path,
        typer.Option(
            "--negatives", help="A folder of real photos (none generated or altered by AI)."
        ),
    ],
    positives: Annotated[
        Path | None,
        typer.Option("--positives", help="A folder of known generated pictures (for the TPR)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="What the real photos are (default: the folder), kept with the rate."
        ),
    ] = None,
    positives_name: Annotated[
        str | None, typer.Option("--positives-name", help="What the generated pictures are.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the rates; leave the config unchanged.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Measure the false-positive rate on real photos (and the true-positive rate on known
    generated pictures) at the configured threshold, with 95% Wilson intervals, and write
    them into the config. Exit 3 when some pictures could not be read (listed)."""
    cfg = learned_config.load_config(config)
    detector = learned.load(cfg)
    folders = [("negatives", _pictures(negatives, "--negatives"))]
    if positives is not None:
        folders.append(("positives", _pictures(positives, "--positives")))
    scored = _score(detector, folders)
    m = learned_measure.measurement(
        cfg,
        scored["negatives"],
        scored.get("positives"),
        measured_on=name or str(negatives),
        positives_on=(positives_name or str(positives)) if positives is not None else None,
    )
    if not dry_run:
        learned_measure.write_measurement(cfg, m)
    bad = [s for items in scored.values() for s in items if s.score is None]
    if as_json:
        result = {
            "config": str(config),
            "model": cfg.name,
            "measurement": _measurement_json(m),
            "written": not dry_run,
            "unreadable": [{"file": str(s.path), "reason": s.problem} for s in bad],
        }
        out.print_json(json.dumps(result, ensure_ascii=False))
    _summary(cfg.name, config, m, dry_run)  # on stderr, beside the JSON too
    if bad:
        err.print(
            f"[yellow]{len(bad)} picture(s) could not be read (left out of the rates):[/] "
            + names([f"{s.path} ({s.problem})" for s in bad]),
            highlight=False,
        )
        raise typer.Exit(EXIT_SKIPPED)


def _summary(model: str, config: Path, m: Measurement, dry_run: bool) -> None:
    err.print(
        f"{safe(model)} at threshold {m.threshold}: false-positive rate "
        f"{_rate(m.false_positives, m.negatives, m.false_positive_rate_95, 'real photos')} "
        f"on {safe(m.measured_on)}",
        highlight=False,
    )
    if m.true_positive_rate is not None and m.true_positive_rate_95 is not None:
        err.print(
            "true-positive rate "
            f"{_rate(m.true_positives, m.positives, m.true_positive_rate_95, 'generated')} "
            f"on {safe(m.positives_on or '')}",
            highlight=False,
        )
    if m.negatives < FEW_NEGATIVES:
        err.print(
            f"[yellow]only {m.negatives} real photos:[/] the interval is wide; measure on "
            f"{FEW_NEGATIVES} or more, of the kinds of pictures you scan",
            highlight=False,
        )
    if dry_run:
        err.print("--dry-run: the config is unchanged", highlight=False)
    else:
        err.print(f"written into {safe(config)} ({m.measured_at})", highlight=False)
