"""An optional learned detector: an ONNX image classifier an organisation brings, by path.

Why a plug-in point and no model: learned "AI-generated" detectors do not generalise across
generators (face-swap detectors trained on FF++ fall from AUC ~0.99 to ~0.65-0.72 on
Celeb-DF/DFDC; generic AI-image detectors reach ~57-63% on in-the-wild sets), and none was
found with its weights inside a package under a permissive licence (docs/synthetic.md). An
organisation that has a model it trusts can still run it here, offline, through OpenCV's dnn
module (cv2.dnn.readNetFromONNX: OpenCV is already a dependency, so no new runtime), and its
score is shown only beside the false-positive rate measured on real photos at the configured
threshold (`rempart detector measure`): a config without that measurement is refused.

Off by default: `base.detectors()` adds this module to a run only when the environment
variable REMPART_LEARNED_DETECTOR names the config (a TOML file); otherwise this module is
not even imported.

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

import hashlib
import math
import os
import re
import threading
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rempart.errors import SetupError
from rempart.media.decode import decode_image, read_file_bytes
from rempart.media.errors import MediaError
from rempart.signals.synthetic.base import (
    LEARNED_DETECTOR_ENV,
    Finding,
    Limits,
    Unreadable,
    file_kind,
)

FINDING_TYPE = "learned-detector"
MAX_CONFIG_BYTES = 64 * 1024
MAX_MODEL_BYTES = 1 << 30  # 1 GiB: ONNX's protobuf cannot exceed 2 GiB; ours stays lower
MAX_INPUT_SIDE = 4096
ACTIVATIONS = ("none", "sigmoid", "softmax")
RESIZES = ("stretch", "center-crop")
ORDERS = ("RGB", "BGR")
PICTURE_KINDS = ("jpeg", "png", "webp", "gif", "tiff")  # not videos (bmff)
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


# ---- the config -------------------------------------------------------------------------


def _bad(source: Path, message: str) -> LearnedDetectorError:
    return LearnedDetectorError(f"learned detector config {source}: {message}")


def _table(data: dict[str, Any], key: str, source: Path, *, required: bool = True) -> Table:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _bad(source, f"a [{key}] table is needed")
    return value


def _number(
    table: Table, key: str, where: str, source: Path, default: float | None = None
) -> float:
    value: Any = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(source, f"{where}.{key} must be a number")
    return float(value)


def _integer(table: Table, key: str, where: str, source: Path, default: int | None = None) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(source, f"{where}.{key} must be a whole number")
    return value


def _text(table: Table, key: str, where: str, source: Path, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _bad(source, f"{where}.{key} must be a non-empty string")
    return value


def _triple(table: Table, key: str, source: Path, default: list[float]) -> tuple[float, ...]:
    value = table.get(key, default)
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        raise _bad(source, f"input.{key} must be three numbers, one per channel")
    return tuple(float(v) for v in value)


def _interval(table: Table, key: str, source: Path) -> tuple[float, float]:
    value = table.get(key)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise _bad(source, f"measurement.{key} must be [low, high]")
    return float(value[0]), float(value[1])


def _rate(table: Table, key: str, source: Path) -> float:
    value = _number(table, key, "measurement", source)
    if not 0.0 <= value <= 1.0:
        raise _bad(source, f"measurement.{key} must be between 0 and 1")
    return value


def _measurement(table: Table, source: Path) -> Measurement | None:
    if not table:
        return None
    negatives = _integer(table, "negatives", "measurement", source)
    if negatives <= 0:
        raise _bad(source, "measurement.negatives must be at least 1 real photo")
    false_positives = _integer(table, "false_positives", "measurement", source)
    if not 0 <= false_positives <= negatives:
        raise _bad(source, "measurement.false_positives must be between 0 and negatives")
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
        raise _bad(source, f"not valid TOML ({exc})") from exc
    model = _table(data, "model", source)
    inp = _table(data, "input", source)
    output = _table(data, "output", source)
    sha256 = _text(model, "sha256", "model", source).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise _bad(source, "model.sha256 must be the model file's SHA-256 (64 hex digits)")
    size = inp.get("size")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
        or not all(1 <= v <= MAX_INPUT_SIDE for v in size)
    ):
        raise _bad(source, f"input.size must be [width, height], each 1 to {MAX_INPUT_SIDE}")
    order = _text(inp, "channel_order", "input", source, "RGB").upper()
    if order not in ORDERS:
        raise _bad(source, "input.channel_order must be RGB or BGR")
    resize = _text(inp, "resize", "input", source, "stretch")
    if resize not in RESIZES:
        raise _bad(source, f"input.resize must be one of {', '.join(RESIZES)}")
    pixel_max = _number(inp, "pixel_max", "input", source, 1.0)
    std = _triple(inp, "std", source, [1.0, 1.0, 1.0])
    if any(s == 0 for s in std):
        raise _bad(source, "input.std must not contain 0")
    activation = _text(output, "activation", "output", source, "none")
    if activation not in ACTIVATIONS:
        raise _bad(source, f"output.activation must be one of {', '.join(ACTIVATIONS)}")
    index = _integer(output, "generated_index", "output", source)
    if index < 0:
        raise _bad(source, "output.generated_index must be 0 or more")
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
        raise _bad(source, f"cannot read it ({exc.strerror or exc})") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise _bad(source, f"over {MAX_CONFIG_BYTES} bytes: not a detector config")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(source, "not UTF-8 text") from exc


def load_config(source: Path) -> DetectorConfig:
    """The config of a TOML file (not checked against its model: see `load`)."""
    return parse_config(read_config_text(source), source)


# ---- the model --------------------------------------------------------------------------


class LearnedDetector:
    """A loaded model and its config: `score` a picture, `findings` for one."""

    def __init__(self, config: DetectorConfig, net: Any) -> None:
        self.config = config
        self._net = net
        self._lock = threading.Lock()  # a cv2.dnn.Net runs one input at a time

    def blob(self, rgb: np.ndarray) -> np.ndarray:
        """The [1, 3, height, width] float32 input of an RGB uint8 picture, as the config
        says (resize, channel order, pixel_max, mean, std)."""
        c = self.config
        img = rgb
        if c.resize == "center-crop":
            h, w = img.shape[:2]
            scale = max(c.width / w, c.height / h)
            new_w, new_h = max(c.width, round(w * scale)), max(c.height, round(h * scale))
            img = _resized(img, new_w, new_h)
            top, left = (new_h - c.height) // 2, (new_w - c.width) // 2
            img = img[top : top + c.height, left : left + c.width]
        else:
            img = _resized(img, c.width, c.height)
        if c.channel_order == "BGR":
            img = img[:, :, ::-1]
        scaled = img.astype(np.float32) * np.float32(c.pixel_max / 255.0)
        x = (scaled - np.asarray(c.mean, np.float32)) / np.asarray(c.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)

    def score(self, rgb: np.ndarray) -> float:
        """The model's "generated" score of an RGB uint8 picture (after the activation)."""
        blob = self.blob(rgb)
        with self._lock:
            try:
                self._net.setInput(blob)
                raw = np.asarray(self._net.forward(), dtype=np.float64).ravel()
            except cv2.error as exc:
                raise LearnedDetectorError(
                    f"learned detector {self.config.name!r}: the model failed on a "
                    f"{self.config.width}x{self.config.height} input ({_cv_reason(exc)})"
                ) from exc
        c = self.config
        if c.generated_index >= raw.size:
            raise LearnedDetectorError(
                f"learned detector {c.name!r}: output.generated_index is {c.generated_index} "
                f"but the model gives {raw.size} value(s)"
            )
        if c.activation == "softmax":
            shifted = np.exp(raw - raw.max())
            value = float(shifted[c.generated_index] / shifted.sum())
        elif c.activation == "sigmoid":
            value = float(1.0 / (1.0 + math.exp(-float(np.clip(raw[c.generated_index], -60, 60)))))
        else:
            value = float(raw[c.generated_index])
        if not math.isfinite(value):
            raise LearnedDetectorError(f"learned detector {c.name!r}: the score is not a number")
        return value

    def score_file(self, path: Path) -> float:
        """The score of a picture file; a MediaError when it cannot be decoded."""
        decoded = decode_image(read_file_bytes(path), path, reduce_for_hashing=False)
        return self.score(np.asarray(decoded.image.convert("RGB"), dtype=np.uint8))

    def finding(self, score: float) -> Finding:
        """The finding of a score at or over the threshold: always with the measured
        false-positive rate beside it."""
        c = self.config
        m = c.require_measurement()
        evidence: dict[str, Any] = {
            "model": c.name,
            "sha256": c.sha256,
            "score": round(score, 4),
            "threshold": c.threshold,
            "measured_fpr": m.false_positive_rate,
            "measured_fpr_95": list(m.false_positive_rate_95),
            "measured_negatives": m.negatives,
            "measured_on": m.measured_on,
            "measured_at": m.measured_at,
        }
        if m.true_positive_rate is not None:
            evidence["measured_tpr"] = m.true_positive_rate
            evidence["measured_tpr_95"] = list(m.true_positive_rate_95 or (0.0, 1.0))
        evidence["wording"] = (
            f"a learned model ({c.name}) scored {score:.3f} (threshold {c.threshold}); on "
            f"{m.negatives} real photos ({m.measured_on}, {m.measured_at}) it flagged "
            f"{m.false_positive_rate:.1%} of them: a weak signal, never a verdict"
        )
        return Finding(FINDING_TYPE, "ai-generated", "weak", evidence)


def _resized(img: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    if (w, h) == (width, height):
        return img
    shrink = width < w and height < h
    return cv2.resize(
        img, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )


def _cv_reason(exc: cv2.error) -> str:
    """OpenCV's message without its source path and function name."""
    text = str(exc).strip()
    match = re.search(r"error: \([-\d]+:[^)]*\) (.*?)(?: in function .*)?$", text, re.S)
    return (match.group(1) if match else text.splitlines()[-1]).strip()


def read_model(config: DetectorConfig) -> bytes:
    """The model file's bytes, after checking they are the ones the config names (the same
    bytes are then loaded: a file swapped after the check is never run)."""
    path = config.model_path
    try:
        data = read_file_bytes(path, max_bytes=MAX_MODEL_BYTES)
    except MediaError as exc:
        raise LearnedDetectorError(
            f"learned detector {config.name!r}: model file {path}: {exc.detail}"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != config.sha256:
        raise LearnedDetectorError(
            f"learned detector {config.name!r}: model file {path} has SHA-256 {digest}, the "
            f"config {config.source} says {config.sha256}: the file is not the one that was "
            "configured and measured (refused)"
        )
    return data


def load(config: DetectorConfig) -> LearnedDetector:
    """The model of a config: hash checked, then loaded by OpenCV from the checked bytes."""
    data = read_model(config)
    try:
        net = cv2.dnn.readNetFromONNX(np.frombuffer(data, dtype=np.uint8))
    except cv2.error as exc:
        raise LearnedDetectorError(
            f"learned detector {config.name!r}: model file {config.model_path} cannot be "
            f"loaded by OpenCV's dnn module ({_cv_reason(exc)})"
        ) from exc
    if net is None or net.empty():
        raise LearnedDetectorError(
            f"learned detector {config.name!r}: model file {config.model_path} loaded as an "
            "empty network"
        )
    return LearnedDetector(config, net)


def check(config: DetectorConfig) -> float:
    """Hash, load and one inference on a grey picture (its score): what `rempart detector
    check` runs."""
    detector = load(config)
    grey = np.full((config.height, config.width, 3), 128, dtype=np.uint8)
    return detector.score(grey)


# ---- the detector in a run --------------------------------------------------------------

_cache: dict[str, tuple[tuple[int, ...], LearnedDetector | LearnedDetectorError]] = {}
_cache_lock = threading.Lock()


def _stamp(config_path: Path) -> tuple[int, ...]:
    stamp: list[int] = []
    try:
        st = config_path.stat()
        stamp += [st.st_mtime_ns, st.st_size, st.st_ino]
        model = load_config(config_path).model_path.stat()
        stamp += [model.st_mtime_ns, model.st_size, model.st_ino]
    except (OSError, LearnedDetectorError):
        stamp.append(-1)
    return tuple(stamp)


def configured() -> LearnedDetector:
    """The detector REMPART_LEARNED_DETECTOR names, loaded once per process (again when the
    config or the model file changes); its refusal, also kept, otherwise."""
    value = os.environ.get(LEARNED_DETECTOR_ENV, "").strip()
    if not value:
        raise LearnedDetectorError(f"{LEARNED_DETECTOR_ENV} is not set")
    path = Path(value).expanduser()
    stamp = _stamp(path)
    with _cache_lock:
        cached = _cache.get(value)
        if cached is None or cached[0] != stamp:
            try:
                config = load_config(path)
                config.require_measurement()
                result: LearnedDetector | LearnedDetectorError = load(config)
            except LearnedDetectorError as exc:
                result = exc
            cached = (stamp, result)
            _cache[value] = cached
    if isinstance(cached[1], LearnedDetectorError):
        raise cached[1]
    return cached[1]


def detect(path: Path, kind: str, limits: Limits) -> list[Finding]:
    """The `base.detectors()` entry (only when REMPART_LEARNED_DETECTOR is set): a finding
    when the model's score reaches the threshold; none for a video or below it. A config or
    model that cannot be used is reported for the file (Unreadable), never a crash."""
    del limits  # the picture decoder's own limits apply
    if kind not in PICTURE_KINDS:
        return []
    try:
        detector = configured()
    except LearnedDetectorError as exc:
        raise Unreadable(f"learned detector not run: {exc.message}") from exc
    try:
        score = detector.score_file(path)
    except MediaError as exc:
        raise Unreadable(f"learned detector: {exc.detail}") from exc
    except LearnedDetectorError as exc:
        raise Unreadable(f"learned detector not run: {exc.message}") from exc
    return [detector.finding(score)] if score >= detector.config.threshold else []


# ---- measuring ---------------------------------------------------------------------------


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
        raise _bad(source, "the measurement could not be written back")
    tmp = source.with_name(f".{source.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, source)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _bad(source, f"cannot write it ({exc.strerror or exc})") from exc
