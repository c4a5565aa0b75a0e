"""Measuring the learned detector on labelled folders, and writing the measurement into its config.

Why a module of its own: a learned score is shown only beside the false-positive rate measured
on real photos at the configured threshold, and that measurement is its own job, run by
`rempart detector measure` and never during a file's inspection: the pictures of a folder,
each one's score (an unreadable one reported, never a crash), the rates with their 95% Wilson
intervals, and the [measurement] table written back into the organisation's TOML with the rest
of the file, comments included, kept as written. It imports the config (learned_config.py) and
the detector (learned.py); neither imports it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rempart.media.errors import MediaError
from rempart.signals.synthetic.base import file_kind
from rempart.signals.synthetic.learned import PICTURE_KINDS, LearnedDetector
from rempart.signals.synthetic.learned_config import (
    DetectorConfig,
    LearnedDetectorError,
    Measurement,
    config_error,
    parse_config,
    read_config_text,
)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of k/n ((0, 1) when n is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    den = 1 + z * z / n
    return max(0.0, (centre - margin) / den), min(1.0, (centre + margin) / den)


def pictures(folder: Path) -> Iterator[Path]:
    """The picture files of a folder, walked in order (links to folders not followed;
    videos and other files left out)."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            try:
                with path.open("rb") as fh:
                    kind = file_kind(fh.read(16))
            except OSError:
                kind = "jpeg"  # listed, so that its error is reported
            if kind in PICTURE_KINDS:
                yield path


@dataclass(frozen=True)
class Scored:
    """One picture of a measurement: its score, or why it could not be scored."""

    path: Path
    score: float | None
    problem: str | None = None


def score_all(detector: LearnedDetector, paths: Iterable[Path]) -> Iterator[Scored]:
    """Each picture's score; an undecodable one is reported, never a crash."""
    for path in paths:
        try:
            yield Scored(path, detector.score_file(path))
        except MediaError as exc:
            yield Scored(path, None, exc.detail)


def measurement(
    config: DetectorConfig,
    negatives: list[Scored],
    positives: list[Scored] | None,
    *,
    measured_on: str,
    positives_on: str | None = None,
    today: date | None = None,
) -> Measurement:
    """The rates at the config's threshold (unscored pictures left out and counted)."""
    neg = [s.score for s in negatives if s.score is not None]
    if not neg:
        raise LearnedDetectorError("no real photo could be scored: nothing was measured")
    fp = sum(1 for s in neg if s >= config.threshold)
    tpr = tpr_95 = None
    pos: list[float] = []
    if positives is not None:
        pos = [s.score for s in positives if s.score is not None]
        if pos:
            tp = sum(1 for s in pos if s >= config.threshold)
            tpr, tpr_95 = tp / len(pos), wilson(tp, len(pos))
    unreadable = sum(1 for s in [*negatives, *(positives or [])] if s.score is None)
    return Measurement(
        false_positive_rate=fp / len(neg),
        false_positive_rate_95=wilson(fp, len(neg)),
        negatives=len(neg),
        false_positives=fp,
        measured_on=measured_on,
        measured_at=(today or date.today()).isoformat(),
        threshold=config.threshold,
        sha256=config.sha256,
        true_positive_rate=tpr,
        true_positive_rate_95=tpr_95,
        positives=len(pos),
        true_positives=sum(1 for s in pos if s >= config.threshold),
        positives_on=positives_on if positives is not None else None,
        unreadable=unreadable,
    )


def _toml_string(value: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_float(value: float) -> str:
    return repr(round(float(value), 6))


def measurement_toml(m: Measurement) -> str:
    """The [measurement] table of a config."""
    lines = [
        "[measurement]",
        "# written by `rempart detector measure`: the rates at this threshold with this model",
        f"false_positive_rate = {_toml_float(m.false_positive_rate)}",
        "false_positive_rate_95 = ["
        + ", ".join(_toml_float(v) for v in m.false_positive_rate_95)
        + "]",
        f"negatives = {m.negatives}",
        f"false_positives = {m.false_positives}",
        f"measured_on = {_toml_string(m.measured_on)}",
        f"measured_at = {_toml_string(m.measured_at)}",
        f"threshold = {repr(float(m.threshold))}",
        f"sha256 = {_toml_string(m.sha256)}",
        f"unreadable = {m.unreadable}",
    ]
    if m.true_positive_rate is not None and m.true_positive_rate_95 is not None:
        lines += [
            f"true_positive_rate = {_toml_float(m.true_positive_rate)}",
            "true_positive_rate_95 = ["
            + ", ".join(_toml_float(v) for v in m.true_positive_rate_95)
            + "]",
            f"positives = {m.positives}",
            f"true_positives = {m.true_positives}",
        ]
        if m.positives_on:
            lines.append(f"positives_on = {_toml_string(m.positives_on)}")
    return "\n".join(lines) + "\n"


_HEADER = re.compile(r"^\s*\[")
_MEASUREMENT_HEADER = re.compile(r"^\s*\[\s*measurement\s*\]\s*(#.*)?$")


def with_measurement(text: str, m: Measurement) -> str:
    """The config text with its [measurement] table replaced (or added at the end); the
    rest, comments included, kept as the organisation wrote it."""
    lines = text.splitlines()
    kept: list[str] = []
    inside = False
    for line in lines:
        if _MEASUREMENT_HEADER.match(line):
            inside = True
            continue
        if inside and _HEADER.match(line):
            inside = False
        if not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + "\n\n" + measurement_toml(m)


def write_measurement(config: DetectorConfig, m: Measurement) -> None:
    """Write the measurement into the config file (atomically; the result is parsed back and
    must carry exactly this measurement)."""
    source = config.source
    text = with_measurement(read_config_text(source), m)
    if parse_config(text, source).measurement is None:  # never write what cannot be read
        raise config_error(source, "the measurement could not be written back")
    tmp = source.with_name(f".{source.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, source)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise config_error(source, f"cannot write it ({exc.strerror or exc})") from exc
