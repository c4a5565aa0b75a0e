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

This module runs the model on pictures (load and check it, score a picture, the finding,
`detect` in a run); the config file is learned_config.py's, and `rempart detector measure`'s
measurement and its writing into the config are learned_measure.py's.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rempart.media.decode import decode_image, read_file_bytes
from rempart.media.errors import MediaError
from rempart.signals.synthetic.base import LEARNED_DETECTOR_ENV, Finding, Limits, Unreadable
from rempart.signals.synthetic.learned_config import (
    DetectorConfig,
    LearnedDetectorError,
    load_config,
)

FINDING_TYPE = "learned-detector"
MAX_MODEL_BYTES = 1 << 30  # 1 GiB: ONNX's protobuf cannot exceed 2 GiB; ours stays lower
PICTURE_KINDS = ("jpeg", "png", "webp", "gif", "tiff")  # not videos (bmff)


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
