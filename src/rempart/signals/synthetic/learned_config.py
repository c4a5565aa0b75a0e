"""The learned detector's configuration file: the TOML an organisation writes, read and checked.

Why a module of its own: the config is read by three different jobs (running the detector in
a file's inspection, `rempart detector check`, and `rempart detector measure`, which writes
its [measurement] table back), and reading it needs neither OpenCV nor numpy. Here are the
config's shape (DetectorConfig, Measurement), its limits, the TOML readers that name the
file and the key of anything wrong, and LearnedDetectorError, the one refusal of all three
jobs. It imports neither the detector (learned.py) nor the measurement (learned_measure.py).

The config (paths relative to the TOML file):

    [model]
    name = "our-detector-v3"            # shown in every finding
    path = "detector.onnx"
    sha256 = "..."                      # checked on the bytes that are loaded
    [input]
    size = [224, 224]                   # width, height of the NCHW input
    channel_order = "RGB"               # or "BGR"
    resize = "stretch"                  # or "center-crop" (shorter side, then the centre)
    pixel_max = 1.0                     # a white pixel's value before mean/std (1 or 255)
    mean = [0.485, 0.456, 0.406]        # per channel, in channel_order
    std = [0.229, 0.224, 0.225]
    [output]
    generated_index = 1                 # the output value that means "generated"
    activation = "none"                 # or "sigmoid", "softmax": applied before the cut
    threshold = 0.5                     # score >= threshold: a finding
    [measurement]                       # written by `rempart detector measure`
    false_positive_rate = 0.031 ...     # with its 95% interval, counts, set, date, model
                                        # hash and threshold (stale when either changed)
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rempart.errors import SetupError

MAX_CONFIG_BYTES = 64 * 1024
MAX_INPUT_SIDE = 4096
ACTIVATIONS = ("none", "sigmoid", "softmax")
RESIZES = ("stretch", "center-crop")
ORDERS = ("RGB", "BGR")
Table = dict[str, Any]  # a TOML table


class LearnedDetectorError(SetupError):
    """The learned detector's config or model cannot be used: a missing or malformed TOML, a
    model whose SHA-256 differs from the config's, a file OpenCV cannot load, no measurement
    of the false-positive rate."""

    code = "learned-detector"


@dataclass(frozen=True)
class Measurement:
    """The false-positive rate measured on real photos at `threshold` with the model of
    `sha256` (and the true-positive rate, when known generated pictures were given)."""

    false_positive_rate: float
    false_positive_rate_95: tuple[float, float]
    negatives: int
    false_positives: int
    measured_on: str
    measured_at: str
    threshold: float
    sha256: str
    true_positive_rate: float | None = None
    true_positive_rate_95: tuple[float, float] | None = None
    positives: int = 0
    true_positives: int = 0
    positives_on: str | None = None
    unreadable: int = 0


@dataclass(frozen=True)
class DetectorConfig:
    """One learned detector, as its TOML says (`source`: the TOML file)."""

    source: Path
    name: str
    model_path: Path
    sha256: str
    width: int
    height: int
    channel_order: str
    resize: str
    pixel_max: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    generated_index: int
    activation: str
    threshold: float
    measurement: Measurement | None

    def require_measurement(self) -> Measurement:
        """The measurement that makes a finding showable, or the refusal naming what is
        missing or stale."""
        m = self.measurement
        where = f"learned detector config {self.source}"
        if m is None:
            raise LearnedDetectorError(
                f"{where} has no [measurement]: its false-positive rate must be measured "
                f"before any score is shown (run: rempart detector measure --config "
                f"{self.source} --negatives FOLDER_OF_REAL_PHOTOS)"
            )
        if m.sha256 != self.sha256:
            raise LearnedDetectorError(
                f"{where}: the measurement was made with another model (sha256 "
                f"{m.sha256[:12]}..., the model is {self.sha256[:12]}...): measure again"
            )
        if not math.isclose(m.threshold, self.threshold, rel_tol=0, abs_tol=1e-12):
            raise LearnedDetectorError(
                f"{where}: the measurement was made at threshold {m.threshold}, the config "
                f"says {self.threshold}: measure again at this threshold"
            )
        return m


def config_error(source: Path, message: str) -> LearnedDetectorError:
    """The refusal of a config file, naming it."""
    return LearnedDetectorError(f"learned detector config {source}: {message}")


def _table(data: dict[str, Any], key: str, source: Path, *, required: bool = True) -> Table:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise config_error(source, f"a [{key}] table is needed")
    return value


def _number(
    table: Table, key: str, where: str, source: Path, default: float | None = None
) -> float:
    value: Any = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise config_error(source, f"{where}.{key} must be a number")
    return float(value)


def _integer(table: Table, key: str, where: str, source: Path, default: int | None = None) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise config_error(source, f"{where}.{key} must be a whole number")
    return value


def _text(table: Table, key: str, where: str, source: Path, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise config_error(source, f"{where}.{key} must be a non-empty string")
    return value


def _triple(table: Table, key: str, source: Path, default: list[float]) -> tuple[float, ...]:
    value = table.get(key, default)
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        raise config_error(source, f"input.{key} must be three numbers, one per channel")
    return tuple(float(v) for v in value)


def _interval(table: Table, key: str, source: Path) -> tuple[float, float]:
    value = table.get(key)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise config_error(source, f"measurement.{key} must be [low, high]")
    return float(value[0]), float(value[1])


def _rate(table: Table, key: str, source: Path) -> float:
    value = _number(table, key, "measurement", source)
    if not 0.0 <= value <= 1.0:
        raise config_error(source, f"measurement.{key} must be between 0 and 1")
    return value


def _measurement(table: Table, source: Path) -> Measurement | None:
    if not table:
        return None
    negatives = _integer(table, "negatives", "measurement", source)
    if negatives <= 0:
        raise config_error(source, "measurement.negatives must be at least 1 real photo")
    false_positives = _integer(table, "false_positives", "measurement", source)
    if not 0 <= false_positives <= negatives:
        raise config_error(source, "measurement.false_positives must be between 0 and negatives")
    tpr: float | None = None
    tpr_95: tuple[float, float] | None = None
    if "true_positive_rate" in table:
        tpr = _rate(table, "true_positive_rate", source)
        tpr_95 = _interval(table, "true_positive_rate_95", source)
    positives_on = table.get("positives_on")
    return Measurement(
        false_positive_rate=_rate(table, "false_positive_rate", source),
        false_positive_rate_95=_interval(table, "false_positive_rate_95", source),
        negatives=negatives,
        false_positives=false_positives,
        measured_on=_text(table, "measured_on", "measurement", source),
        measured_at=_text(table, "measured_at", "measurement", source),
        threshold=_number(table, "threshold", "measurement", source),
        sha256=_text(table, "sha256", "measurement", source).lower(),
        true_positive_rate=tpr,
        true_positive_rate_95=tpr_95,
        positives=_integer(table, "positives", "measurement", source, 0),
        true_positives=_integer(table, "true_positives", "measurement", source, 0),
        positives_on=positives_on if isinstance(positives_on, str) else None,
        unreadable=_integer(table, "unreadable", "measurement", source, 0),
    )


def parse_config(text: str, source: Path) -> DetectorConfig:
    """The config a TOML text describes (`source`: its file, for messages and the model's
    relative path); a LearnedDetectorError naming the key for anything wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise config_error(source, f"not valid TOML ({exc})") from exc
    model = _table(data, "model", source)
    inp = _table(data, "input", source)
    output = _table(data, "output", source)
    sha256 = _text(model, "sha256", "model", source).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise config_error(source, "model.sha256 must be the model file's SHA-256 (64 hex digits)")
    size = inp.get("size")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
        or not all(1 <= v <= MAX_INPUT_SIDE for v in size)
    ):
        raise config_error(
            source, f"input.size must be [width, height], each 1 to {MAX_INPUT_SIDE}"
        )
    order = _text(inp, "channel_order", "input", source, "RGB").upper()
    if order not in ORDERS:
        raise config_error(source, "input.channel_order must be RGB or BGR")
    resize = _text(inp, "resize", "input", source, "stretch")
    if resize not in RESIZES:
        raise config_error(source, f"input.resize must be one of {', '.join(RESIZES)}")
    pixel_max = _number(inp, "pixel_max", "input", source, 1.0)
    std = _triple(inp, "std", source, [1.0, 1.0, 1.0])
    if any(s == 0 for s in std):
        raise config_error(source, "input.std must not contain 0")
    activation = _text(output, "activation", "output", source, "none")
    if activation not in ACTIVATIONS:
        raise config_error(source, f"output.activation must be one of {', '.join(ACTIVATIONS)}")
    index = _integer(output, "generated_index", "output", source)
    if index < 0:
        raise config_error(source, "output.generated_index must be 0 or more")
    model_path = Path(_text(model, "path", "model", source)).expanduser()
    if not model_path.is_absolute():
        model_path = source.parent / model_path
    return DetectorConfig(
        source=source,
        name=_text(model, "name", "model", source),
        model_path=model_path,
        sha256=sha256,
        width=size[0],
        height=size[1],
        channel_order=order,
        resize=resize,
        pixel_max=pixel_max,
        mean=_triple(inp, "mean", source, [0.0, 0.0, 0.0]),  # type: ignore[arg-type]
        std=std,  # type: ignore[arg-type]
        generated_index=index,
        activation=activation,
        threshold=_number(output, "threshold", "output", source),
        measurement=_measurement(_table(data, "measurement", source, required=False), source),
    )


def read_config_text(source: Path) -> str:
    try:
        with source.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise config_error(source, f"cannot read it ({exc.strerror or exc})") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise config_error(source, f"over {MAX_CONFIG_BYTES} bytes: not a detector config")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise config_error(source, "not UTF-8 text") from exc


def load_config(source: Path) -> DetectorConfig:
    """The config of a TOML file (not checked against its model: see `load`)."""
    return parse_config(read_config_text(source), source)
