"""The optional learned detector: measured false-positive rate written into the config and
carried by every finding, the model's SHA-256 checked, an unmeasured or stale config refused,
a corrupt ONNX file a clear problem (no crash), and nothing imported or loaded when
REMPART_LEARNED_DETECTOR is unset.

The model is tests/signals/synthetic/onnx_tiny.py's hand-written ONNX classifier whose
"generated" output is the picture's mean brightness, run by OpenCV's real dnn module, so each
test knows which of the generated photos score over the threshold.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from rempart.cli import app
from rempart.samples import photo_like
from rempart.signals.synthetic import base, learned, learned_config, learned_measure
from rempart.signals.synthetic.base import LEARNED_DETECTOR_ENV, inspect_file
from tests.signals.synthetic.onnx_tiny import brightness_model

THRESHOLD = 0.55
SIDE = 32
runner = CliRunner()


@dataclass(frozen=True)
class World:
    root: Path
    model: Path
    photos: Path  # real-photo stand-ins: generated abstract scenes
    bright: Path  # the "known generated" stand-ins: light pictures
    brightness: dict[str, float]  # each photo's mean brightness, 0..1

    def config(self, name: str, *, model: Path | None = None, extra: str = "") -> Path:
        """A fresh config (unmeasured unless `extra` holds a [measurement])."""
        model = model or self.model
        digest = hashlib.sha256(model.read_bytes()).hexdigest()
        path = self.root / f"{name}.toml"
        path.write_text(
            "# the organisation's own notes, kept by `detector measure`\n"
            "[model]\n"
            f'name = "tiny-brightness"\npath = "{model.name}"\nsha256 = "{digest}"\n\n'
            f'[input]\nsize = [{SIDE}, {SIDE}]\nchannel_order = "RGB"\n'
            "mean = [0.0, 0.0, 0.0]\nstd = [1.0, 1.0, 1.0]\n\n"
            f'[output]\ngenerated_index = 1\nactivation = "none"\nthreshold = {THRESHOLD}\n'
            + extra,
            encoding="utf-8",
        )
        return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("learned")
    model = root / "tiny.onnx"
    model.write_bytes(brightness_model(SIDE))
    photos, bright = root / "photos", root / "bright"
    photos.mkdir()
    bright.mkdir()
    brightness: dict[str, float] = {}
    for seed in range(16):
        image = photo_like(seed, (64, 48))
        name = f"photo{seed:02d}.png"
        image.save(photos / name)
        brightness[name] = float(np.asarray(image.convert("RGB"), np.float64).mean() / 255)
    # the threshold is far from every photo's brightness: which ones flag is certain
    assert all(abs(b - THRESHOLD) > 0.01 for b in brightness.values()), brightness
    assert 0 < sum(b >= THRESHOLD for b in brightness.values()) < len(brightness)
    for i, level in enumerate((200, 230, 90)):
        Image.new("RGB", (40, 40), (level, level, level)).save(bright / f"light{i}.png")
    (photos / "notes.txt").write_text("not a picture: left out")
    return World(root, model, photos, bright, brightness)


UseDetector = Callable[[Path], None]


@pytest.fixture()
def use_detector(monkeypatch: pytest.MonkeyPatch) -> UseDetector:
    def use(config: Path) -> None:
        monkeypatch.setenv(LEARNED_DETECTOR_ENV, str(config))

    return use


def _said(result: Result) -> str:
    """What a command printed on stderr, its lines unwrapped (rich wraps at the width)."""
    return " ".join(result.stderr.split())


def _learned(findings: list[base.Finding]) -> list[base.Finding]:
    return [f for f in findings if f.type == "learned-detector"]


def test_measure_writes_the_rates_and_findings_carry_them(
    world: World, use_detector: UseDetector
) -> None:
    config = world.config("measured")
    before = config.read_text()
    dry = runner.invoke(
        app,
        ["detector", "measure", "--config", str(config), "--negatives", str(world.photos)]
        + ["--dry-run", "--json"],
    )
    assert dry.exit_code == 0, dry.output
    assert config.read_text() == before  # --dry-run writes nothing
    result = runner.invoke(
        app,
        ["detector", "measure", "--config", str(config), "--negatives", str(world.photos)]
        + ["--positives", str(world.bright), "--name", 'generated "photos" 64x48', "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    flagged = sum(b >= THRESHOLD for b in world.brightness.values())
    m = report["measurement"]
    assert (m["negatives"], m["false_positives"]) == (len(world.brightness), flagged)
    assert m["false_positive_rate"] == pytest.approx(flagged / len(world.brightness), abs=1e-6)
    low, high = learned_measure.wilson(flagged, len(world.brightness))
    assert m["false_positive_rate_95"] == pytest.approx([low, high], abs=1e-6)
    assert (m["positives"], m["true_positives"]) == (3, 2)  # 200 and 230 over 0.55, 90 not
    assert report["written"] is True
    assert "false-positive rate" in _said(result) and "interval is wide" in _said(result)

    text = config.read_text()
    assert text.startswith("# the organisation's own notes")  # the rest kept as written
    written = learned_config.load_config(config).require_measurement()
    assert written.measured_on == 'generated "photos" 64x48'
    assert written.false_positives == flagged and written.threshold == THRESHOLD

    use_detector(config)
    assert base.LEARNED_DETECTOR in base.detectors()
    for name, brightness in world.brightness.items():
        findings, problem = inspect_file(world.photos / name)
        assert problem is None, problem
        found = _learned(findings)
        assert bool(found) == (brightness >= THRESHOLD), (name, brightness)
        if found:
            signal = found[0].as_json()
            assert (signal["indicates"], signal["strength"]) == ("ai-generated", "weak")
            assert signal["score"] == pytest.approx(brightness, abs=0.01)
            assert signal["measured_fpr"] == pytest.approx(flagged / len(world.brightness))
            assert signal["measured_fpr_95"] == pytest.approx([low, high], abs=1e-6)
            assert signal["measured_on"] == written.measured_on
            assert signal["measured_at"] == written.measured_at
            assert signal["threshold"] == THRESHOLD and signal["model"] == "tiny-brightness"
            assert signal["sha256"] == hashlib.sha256(world.model.read_bytes()).hexdigest()
            assert "flagged" in signal["wording"]

    # measuring again replaces the table, never appends a second one
    again = runner.invoke(
        app, ["detector", "measure", "--config", str(config), "--negatives", str(world.photos)]
    )
    assert again.exit_code == 0, again.output
    assert config.read_text().count("[measurement]") == 1
    assert learned_config.load_config(config).require_measurement().positives == 0

    check = runner.invoke(app, ["detector", "check", "--config", str(config), "--json"])
    assert check.exit_code == 0, check.output
    checked = json.loads(check.stdout)
    assert checked["ready"] is True and checked["sha256_ok"] is True
    assert checked["grey_score"] == pytest.approx(128 / 255, abs=0.01)


def test_unmeasured_or_stale_config_is_refused(world: World, use_detector: UseDetector) -> None:
    config = world.config("unmeasured")
    use_detector(config)
    photo = world.bright / "light1.png"  # would score 0.9
    findings, problem = inspect_file(photo)
    assert _learned(findings) == []
    assert problem is not None and "must be measured" in problem.reason
    check = runner.invoke(app, ["detector", "check", "--config", str(config)])
    assert check.exit_code == 0, check.output  # the model is fine; it is not ready
    assert "not ready" in _said(check) and "detector measure" in _said(check)

    # measured at 0.55, then the threshold changed: the rate no longer applies
    assert (
        runner.invoke(
            app, ["detector", "measure", "--config", str(config), "--negatives", str(world.photos)]
        ).exit_code
        == 0
    )
    config.write_text(
        config.read_text().replace(f"threshold = {THRESHOLD}\n", "threshold = 0.3\n", 1)
    )
    findings, problem = inspect_file(photo)
    assert _learned(findings) == []
    assert problem is not None and "made at threshold 0.55, the config says 0.3" in problem.reason


def test_changed_model_file_is_refused(world: World, use_detector: UseDetector) -> None:
    model = world.root / "changed.onnx"
    model.write_bytes(world.model.read_bytes())
    config = world.config("changed", model=model)
    assert (
        runner.invoke(
            app, ["detector", "measure", "--config", str(config), "--negatives", str(world.photos)]
        ).exit_code
        == 0
    )
    use_detector(config)
    assert _learned(inspect_file(world.bright / "light1.png")[0])  # runs as measured
    # another valid model in its place (the bias [1, 0] became [1, 0.5]): refused, not run
    model.write_bytes(_with_bias(model.read_bytes(), 0.5))
    findings, problem = inspect_file(world.bright / "light1.png")
    assert _learned(findings) == []
    assert problem is not None and "SHA-256" in problem.reason and "refused" in problem.reason
    check = runner.invoke(app, ["detector", "check", "--config", str(config)])
    assert check.exit_code == 1 and "SHA-256" in _said(check)


def _with_bias(model: bytes, second: float) -> bytes:
    """The tiny model with its bias [1, 0] changed to [1, second] (still a valid model)."""
    old = np.asarray([1.0, 0.0], "<f4").tobytes()
    assert model.count(old) == 1
    return model.replace(old, np.asarray([1.0, second], "<f4").tobytes())


def test_corrupt_onnx_file_is_a_clear_problem(world: World, use_detector: UseDetector) -> None:
    corrupt = world.root / "corrupt.onnx"
    corrupt.write_bytes(brightness_model(SIDE)[:150])  # cut in the middle of the graph
    config = world.config("corrupt", model=corrupt)
    check = runner.invoke(app, ["detector", "check", "--config", str(config)])
    assert check.exit_code == 1, check.output
    assert "cannot be loaded by OpenCV" in _said(check) and "Traceback" not in check.output
    measure = runner.invoke(
        app, ["detector", "measure", "--config", str(config), "--negatives", str(world.photos)]
    )
    assert measure.exit_code == 1 and "cannot be loaded" in _said(measure)
    # measured figures present (written by hand), the model still corrupt: each file says so
    sha = hashlib.sha256(corrupt.read_bytes()).hexdigest()
    config = world.config(
        "corrupt-measured",
        model=corrupt,
        extra="\n[measurement]\nfalse_positive_rate = 0.0\nfalse_positive_rate_95 = [0.0, 0.2]\n"
        'negatives = 16\nfalse_positives = 0\nmeasured_on = "x"\nmeasured_at = "2026-12-02"\n'
        f'threshold = {THRESHOLD}\nsha256 = "{sha}"\n',
    )
    use_detector(config)
    findings, problem = inspect_file(world.photos / "photo00.png")
    assert problem is not None and "cannot be loaded by OpenCV" in problem.reason
    assert _learned(findings) == []
    # a run goes on: the inspect command lists the problem per file, exit 3
    result = runner.invoke(app, ["inspect", "--format", "json", str(world.photos)])
    assert result.exit_code == 3
    assert all("learned detector" in e["problem"] for e in json.loads(result.stdout))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("[output]", "[outputs]"), "[output] table is needed"),
        (lambda t: t.replace('sha256 = "', 'sha256 = "zz'), "64 hex digits"),
        (lambda t: t.replace(f"size = [{SIDE}, {SIDE}]", "size = [0, 32]"), "input.size"),
        (lambda t: t.replace('"RGB"', '"RGBA"'), "channel_order"),
        (lambda t: t.replace('"none"', '"relu"'), "output.activation"),
        (lambda t: t.replace("std = [1.0, 1.0, 1.0]", "std = [1.0, 0, 1.0]"), "not contain 0"),
        (lambda t: t + "[broken\n", "not valid TOML"),
    ],
)
def test_bad_config_is_named(world: World, edit: Callable[[str], str], message: str) -> None:
    config = world.config("bad")
    config.write_text(edit(config.read_text()))
    with pytest.raises(
        learned_config.LearnedDetectorError, match="learned detector config"
    ) as info:
        learned_config.load_config(config)
    assert message in info.value.message


def test_measurement_text_round_trips_and_keeps_the_rest(world: World) -> None:
    config = learned_config.load_config(world.config("text"))
    odd = 'intake "2026"\\ with a\nnewline and \x7f and 한국어'
    m = learned_measure.measurement(
        config,
        [
            learned_measure.Scored(Path("a"), 0.9),
            learned_measure.Scored(Path("b"), 0.1),
            learned_measure.Scored(Path("c"), None, "bad"),
        ],
        None,
        measured_on=odd,
    )
    assert (m.false_positives, m.negatives, m.unreadable) == (1, 2, 1)
    text = learned_measure.with_measurement(
        "[model]\nx = 1 # kept\n\n[measurement]\nold = 1\n\n[tail]\ny = 2\n", m
    )
    assert "old = 1" not in text and "x = 1 # kept" in text and "[tail]\ny = 2" in text
    parsed = learned_config.parse_config(
        learned_measure.with_measurement(config.source.read_text(), m), config.source
    ).require_measurement()
    assert parsed.measured_on == odd and parsed.false_positive_rate == 0.5


def test_blob_follows_the_config(world: World) -> None:
    config = learned_config.load_config(world.config("blob"))
    detector = learned.load(config)
    picture = np.zeros((20, 40, 3), np.uint8)
    picture[:, :, 0] = 255  # red
    picture[:, 32:, 2] = 255  # the right fifth magenta
    rgb = detector.blob(picture)
    assert rgb.shape == (1, 3, SIDE, SIDE) and rgb.dtype == np.float32
    assert rgb[0, 0].mean() == pytest.approx(1.0) and rgb[0, 1].max() == 0.0
    bgr = learned.LearnedDetector(
        replace(config, channel_order="BGR", resize="center-crop", pixel_max=255.0), None
    ).blob(picture)
    assert bgr[0, 2].mean() == pytest.approx(255.0)  # red is the last channel
    # centre crop of 40x20 to 32x32: the scaled picture is 64x32, columns 16..48 kept,
    # so the magenta fifth (columns 51..64 scaled) is cut away
    assert bgr[0, 0].max() == 0.0
    # videos are not pictures the model reads
    assert learned.detect(Path("x.mp4"), "bmff", base.DEFAULT_LIMITS) == []


def test_off_by_default_nothing_imported_or_loaded(world: World) -> None:
    """With REMPART_LEARNED_DETECTOR unset, `rempart inspect` neither imports learned.py nor
    reads an ONNX model; set, the model is read once for all the files."""
    config = world.config("offon")
    assert (
        runner.invoke(
            app, ["detector", "measure", "--config", str(config), "--negatives", str(world.photos)]
        ).exit_code
        == 0
    )
    script = f"""
import os, sys, cv2
loads = []
real = cv2.dnn.readNetFromONNX
cv2.dnn.readNetFromONNX = lambda *a: loads.append(1) or real(*a)
from rempart.cli import main
def run(*args):
    sys.argv = ["rempart", "inspect", "--format", "json", *args]
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
run({str(world.photos / "photo00.png")!r})
off = ("rempart.signals.synthetic.learned" in sys.modules, len(loads))
os.environ[{LEARNED_DETECTOR_ENV!r}] = {str(config)!r}
run({str(world.photos / "photo01.png")!r}, {str(world.bright / "light0.png")!r})
on = ("rempart.signals.synthetic.learned" in sys.modules, len(loads))
print("RESULT", off, on)
"""
    env = {k: v for k, v in os.environ.items() if k != LEARNED_DETECTOR_ENV}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")][-1]
    assert line == "RESULT (False, 0) (True, 1)", line
    assert '"learned-detector"' in done.stdout


def test_scans_run_the_learned_detector_when_set(world: World, use_detector: UseDetector) -> None:
    """A scan's per-item signals (scan/synthetic.item_findings) include the learned
    detector's finding, with its measured false-positive rate, only while it is set."""
    from rempart.scan.synthetic import item_findings

    config = world.config("scan")
    result = runner.invoke(
        app,
        ["detector", "measure", "--config", str(config), "--negatives", str(world.photos)],
    )
    assert result.exit_code == 0, result.output
    name = next(n for n, b in world.brightness.items() if b >= THRESHOLD)
    assert not [f for f in item_findings(world.photos / name) if f["type"] == "learned-detector"]
    use_detector(config)
    [found] = [f for f in item_findings(world.photos / name) if f["type"] == "learned-detector"]
    assert isinstance(found["measured_fpr"], float) and found["measured_negatives"] == 16
