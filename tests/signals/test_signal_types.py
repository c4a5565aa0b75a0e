"""Conformance of every registered signal type (issue 15 item 1), in the spirit of Thorn
perception's hasher test kit: `problems` checks one type against what the registry
promises (unique names, validation of its own examples and refusal of malformed values with
the registry's error, an index and threshold when indexed, a round trip through each list
format that claims it, only declared `indicates` for assertions, a valid and deterministic
value computed from generated media), runs over every registered type, and reports a
deliberately broken type registered in a fixture. Also: the places that used to declare
their own lists of types now read the registry (same names, same order)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest

from rempart.samples import photo_like
from rempart.signals.types import (
    INDEXES,
    INDICATES,
    LIST_FORMATS,
    REGISTRY,
    InvalidSignalValue,
    Registry,
    SignalType,
)
from tests.media.video_factory import scene_frames, write_video
from tests.signals.conftest import TESTDATA
from tests.signals.synthetic import media_builders as mb

C2PA_FILE = TESTDATA / "c2pa" / "c2pa-rs" / "ocsp.jpg"
A1111 = (  # a generator's PNG text (as test_metadata_xmp.py's)
    "a lighthouse on a cliff at dusk\nNegative prompt: blurry\nSteps: 28, Sampler: DPM++ 2M, "
    "CFG scale: 7, Seed: 1234, Size: 512x512, Model: sd_xl_base_1.0"
)


# --- the kit ------------------------------------------------------------------------------


def _malformed(t: SignalType) -> list[object]:
    """Values no type of its family may accept."""
    huge = "0" * 100_000
    if t.family == "assertion":
        return ["", "   ", "not-an-indicates", "real", huge, 12, None]
    n = t.hex_chars or 64
    good = t.examples[0] if t.examples else "0" * n
    return [
        "",
        "   ",
        good[:-1],  # one character short
        good + "0",  # one too many
        "g" * n,  # not hexadecimal
        "0x" + good[2:],
        huge,
        12,
        None,
        b"0" * n,
    ]


def _round_trip(t: SignalType, fmt: str, value: str, folder: Path) -> str | None:
    """Write one entry holding `value` in list format `fmt`, read it back: what is wrong,
    or None."""
    from rempart.exchange.list_model import ExportItem, ExportSet
    from rempart.exchange.lists import read_list, write_list
    from rempart.exchange.submission import SubmissionItem

    media = "image" if t.media == "photo" else "video"
    if t.name not in {f.name for f in dataclasses.fields(SubmissionItem)}:
        return f"{fmt}: no entry field for {t.name}"
    values: dict[str, Any] = {t.name: value}
    item = replace(SubmissionItem("", "", None, None, None, None, media_type=media), **values)
    name = t.list_name(fmt) or ""
    path = folder / f"{t.name}.{fmt}"
    if fmt == "threatexchange":  # python-threatexchange's signal file: "type value" lines
        path.write_text(f"{name} {value}\n", encoding="utf-8")
        parsed = read_list(path, "hma")
    else:
        now = datetime(2026, 1, 2, tzinfo=UTC)
        export = ExportSet("bank", 31, "", [ExportItem(item, "C-1", None, now, None)], 0, [])
        if write_list(export, fmt, path) != 1:
            return f"{fmt}: the entry was not written"
        text = path.read_text(encoding="utf-8")
        if name not in text:
            return f"{fmt}: the file does not name {t.name} {name!r}"
        parsed = read_list(path, fmt)
    got = [getattr(i, t.name) for i in parsed.items]
    if got != [value]:
        return f"{fmt}: wrote {value}, read {got} ({'; '.join(parsed.problems)})"
    return None


def _photo(folder: Path) -> Path:
    path = folder / "photo.png"
    if not path.exists():
        photo_like(7, (320, 240)).save(path)
    return path


def _video(folder: Path) -> Path:
    path = folder / "clip.mp4"
    if not path.exists():
        write_video(path, scene_frames(3, 2.0, 5, (160, 120)), fps=5)
    return path


def problems(t: SignalType, registry: Registry, folder: Path) -> list[str]:
    """What is wrong with a registered type (an empty list: it conforms)."""
    out: list[str] = []
    # names and aliases unique across the registry (case folded)
    for other in registry:
        if other.name != t.name:
            shared = {n.lower() for n in t.names} & {n.lower() for n in other.names}
            if shared:
                out.append(f"names {sorted(shared)} also {other.name}'s")
    # validation: its own examples accepted (normalised, idempotent); malformed refused
    if not t.examples:
        out.append("no canonical example")
    for example in t.examples:
        try:
            padded = f" {example} " if t.family == "assertion" else f" {example.upper()} "
            if t.validate(example) != example or t.validate(padded) != example:
                out.append(f"example {example!r} not kept as is")
        except InvalidSignalValue as exc:
            out.append(f"rejects its own example {example!r}: {exc}")
        except Exception as exc:  # any other error is a broken validator
            out.append(f"validating example {example!r} raised {type(exc).__name__}")
    for bad in _malformed(t):
        try:
            t.validate(bad)
        except InvalidSignalValue as exc:
            if t.name not in str(exc):
                out.append(f"the refusal of {str(bad)[:20]!r} does not name the type")
            if len(str(exc)) > 300:
                out.append("a refusal message echoes a huge value")
        except Exception as exc:
            out.append(f"{str(bad)[:20]!r}: {type(exc).__name__} instead of InvalidSignalValue")
        else:
            out.append(f"accepts malformed value {str(bad)[:20]!r}")
    # indexed: an index and a threshold
    if t.index is not None and (t.index not in INDEXES or t.threshold is None):
        out.append(f"indexed in {t.index!r} without a known index or a threshold")
    if t.family in ("binary-256", "frame-hashes", "region-variant") and t.index is None:
        out.append("a perceptual hash that no index searches")
    # exchanged: hex values, a name in at least one format, a round trip in each
    if t.exchanged:
        if not t.list_names:
            out.append("exchanged, but named in no list format")
        if t.hex_chars is None:
            out.append("exchanged, but not a hex value (withdrawal digests, list checks)")
        for fmt in t.list_names:
            try:
                wrong = _round_trip(t, fmt, t.examples[0] if t.examples else "", folder)
            except Exception as exc:
                wrong = f"{fmt}: {type(exc).__name__}: {exc}"
            if wrong:
                out.append(f"round trip {wrong}")
    elif t.list_names:
        out.append("named in list formats but not exchanged")
    # assertions: declared indicates; the values it produces are among them
    if t.family == "assertion":
        if not t.indicates or not set(t.indicates) <= set(INDICATES):
            out.append(f"indicates {t.indicates} not among {INDICATES}")
        if not set(t.examples) <= set(t.indicates):
            out.append("an example outside its indicates")
    elif t.indicates or t.detector:
        out.append("indicates or a detector on a type that is not an assertion")
    # computed from media: valid values, the same twice
    if t.compute is not None:
        media = [_video(folder)] if t.media == "video" else [_photo(folder)]
        for path in media:
            try:
                first, second = t.values_from(path), t.values_from(path)
            except Exception as exc:
                out.append(f"computing from {path.name}: {type(exc).__name__}: {exc}")
                continue
            if first != second:
                out.append(f"not deterministic on {path.name}")
            if t.family != "assertion" and not first:
                out.append(f"computed nothing from {path.name}")
            for value in first:
                try:
                    if t.validate(value) != value:
                        out.append(f"computed value {value!r} is not normalised")
                except InvalidSignalValue as exc:
                    out.append(f"computed an invalid value {value!r}: {exc}")
    return out


# --- every registered type ----------------------------------------------------------------


@pytest.fixture(scope="module")
def media_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signal-types")


@pytest.mark.parametrize("name", REGISTRY.names())
def test_every_registered_type_conforms(name: str, media_folder: Path) -> None:
    assert problems(REGISTRY[name], REGISTRY, media_folder) == []


def test_every_list_format_carries_some_type() -> None:
    for fmt in LIST_FORMATS:
        assert REGISTRY.in_list(fmt), fmt


def test_assertions_produce_only_their_indicates(tmp_path: Path) -> None:
    """Files that carry each kind of claim (made here from ordinary photos; C2PA: the
    shared Firefly fixture): each assertion type's values are among its `indicates`."""
    a1111 = tmp_path / "a.png"
    a1111.write_bytes(mb.png(1, mb.text("parameters", A1111)))
    xmp = tmp_path / "x.jpg"
    xmp.write_bytes(mb.jpeg(9, xmp=mb.xmp_packet("compositeWithTrainedAlgorithmicMedia")))
    files = [a1111, xmp] + ([C2PA_FILE] if C2PA_FILE.exists() else [])
    seen: dict[str, set[str]] = {}
    for path in files:
        for t in REGISTRY.assertions():
            if t.compute is not None:
                seen.setdefault(t.name, set()).update(t.values_from(path))
    for name, values in seen.items():
        assert values <= set(REGISTRY[name].indicates), (name, values)
    assert seen["generator-metadata"] == {"ai-generated"}
    assert seen["xmp"] == {"ai-modified"}
    if C2PA_FILE.exists():
        assert seen["c2pa"] and seen["c2pa"] <= {"ai-modified", "ai-generated"}


# --- the kit reports a broken type ---------------------------------------------------------


def _random_hex(path: Path) -> list[str]:
    return [random.randbytes(32).hex()]


@pytest.fixture
def broken() -> Iterator[SignalType]:
    """A type registered with every kind of mistake, taken out again after the test."""
    t = REGISTRY.register(
        SignalType(
            "broken-hash",
            "binary-256",
            "photo",
            "a deliberately broken type",
            aliases=("broken",),
            hex_chars=None,  # so it accepts anything
            index="pdq",
            threshold=None,  # indexed without a threshold
            exchanged=True,
            list_names={"hma": "broken"},  # that no HMA reader knows
            compute=f"{__name__}:_random_hex",  # a different value each time
            examples=("zz",),
        )
    )
    yield t
    REGISTRY.unregister(t.name)


def test_the_kit_reports_a_broken_type(broken: SignalType, media_folder: Path) -> None:
    found = problems(broken, REGISTRY, media_folder)
    report = "\n".join(found)
    assert "accepts malformed value" in report
    assert "without a known index or a threshold" in report
    assert "not a hex value" in report
    assert "round trip hma" in report
    assert "not deterministic" in report
    # and the registered ones still conform beside it; the derived lists see it
    assert problems(REGISTRY["pdq"], REGISTRY, media_folder) == []
    assert "broken-hash" in REGISTRY.exchanged() and "broken-hash" in REGISTRY.indexed()


def test_the_kit_reports_a_wrong_validator_and_assertion(media_folder: Path) -> None:
    class Lenient(SignalType):
        def validate(self, value: object) -> str:
            if not isinstance(value, str):
                raise TypeError("not text")
            return value

    lenient = Lenient("lenient", "exact-digest", "any", "accepts anything", hex_chars=32)
    bad_assertion = SignalType(
        "claims",
        "assertion",
        "any",
        "an example outside its indicates",
        indicates=("ai-generated",),
        examples=("ai-modified",),
    )
    registry = Registry()
    registry.register(lenient)
    registry.register(bad_assertion)
    report = "\n".join(problems(lenient, registry, media_folder))
    assert "accepts malformed value" in report and "TypeError instead of" in report
    assert "no canonical example" in report
    report = "\n".join(problems(bad_assertion, registry, media_folder))
    assert "rejects its own example 'ai-modified'" in report
    assert "an example outside its indicates" in report


def test_names_are_unique_when_registered() -> None:
    registry = Registry()
    registry.register(REGISTRY["pdq"])
    for clash in ("pdq", "PDQ", "imagepdq"):
        with pytest.raises(ValueError, match="pdq's"):
            registry.register(SignalType(clash, "binary-256", "photo", "x", hex_chars=64))
    with pytest.raises(ValueError, match="unknown list format"):
        registry.register(SignalType("x", "binary-256", "photo", "x", list_names={"tmk": "x"}))
    with pytest.raises(ValueError, match="unknown indicates"):
        registry.register(SignalType("y", "assertion", "any", "y", indicates=("real",)))


def test_lookup_by_name_and_alias() -> None:
    assert REGISTRY.get("ImagePDQ").name == "pdq" and REGISTRY.get(" VIDEO_MD5 ").name == "md5"
    assert len(set(REGISTRY)) == len(REGISTRY) == len(REGISTRY.names())  # hashable, distinct
    with pytest.raises(InvalidSignalValue, match="unknown signal type 'tmk': one of pdq, md5"):
        REGISTRY.get("tmk")
    with pytest.raises(InvalidSignalValue) as refused:
        REGISTRY["md5"].validate("0" * 31)
    assert refused.value.status == 422 and str(refused.value) == (
        "a md5 hash is 32 hexadecimal characters"
    )


# --- the former declaration sites read it --------------------------------------------------


def test_declarations_come_from_the_registry() -> None:
    from rempart.api import lookups
    from rempart.exchange import hma, list_model, stopncii, submission
    from rempart.scan import matcher, robust
    from rempart.scan import synthetic as scan_synthetic
    from rempart.signals import pdq
    from rempart.signals.synthetic import base, learned
    from rempart.store import changefeed, repository, withdrawal_ledger

    # the same names, in the same order, as the lists they replaced
    assert list_model.EXCHANGED_TYPES == changefeed.EXCHANGED_TYPES == ("pdq", "md5", "sha256")
    assert list_model.HEX_LENGTH == {"pdq": 64, "md5": 32, "sha256": 64}
    assert set(submission._HEX) == {"pdq", "md5", "sha256"}
    assert repository.INDEXED_SIGNAL_TYPES == ("pdq", "vpdq", "vpdq-region", "pdq-variant")
    assert (repository.VARIANT_SIGNAL, repository.FEATURES_SIGNAL) == (
        "pdq-variant",
        "local-features",
    )
    assert lookups.SIGNAL_TYPES == {
        "pdq": "pdq",
        "md5": "md5",
        "sha256": "sha256",
        "video_md5": "md5",
    }
    assert list(lookups.SIGNAL_TYPES) == ["pdq", "md5", "sha256", "video_md5"]
    assert hma.KNOWN == {"pdq": "pdq", "video_md5": "md5", "video_sha256": "sha256"}
    assert stopncii.OURS == {"ImagePDQ": "pdq", "VideoMD5": "md5"}
    assert set(stopncii.OURS) <= set(stopncii.SIGNAL_TYPES)
    assert matcher.EXACT_TYPES == ("sha256", "md5")
    assert REGISTRY.identifying() == ("sha256", "md5", "pdq")
    assert base.DETECTORS == (
        "rempart.signals.synthetic.c2pa",
        "rempart.signals.synthetic.xmp",
        "rempart.signals.synthetic.metadata",
        "rempart.signals.synthetic.watermark",
    )
    assert base.LEARNED_DETECTOR == "rempart.signals.synthetic.learned"
    assert set(get_args(base.Indicates)) == set(INDICATES)
    assert set(scan_synthetic.BADGES) == set(INDICATES)  # a badge for every `indicates`
    assert learned.FINDING_TYPE in REGISTRY and REGISTRY[learned.FINDING_TYPE].optional
    assert withdrawal_ledger.DERIVED_SIGNALS == frozenset(REGISTRY.derived())
    # list_model keys a seen hash by its type's initial: the exchanged types' differ
    initials = [name[:1] for name in REGISTRY.exchanged()]
    assert len(set(initials)) == len(initials)
    # thresholds are declared as the matching code uses them, not changed by the registry
    assert REGISTRY["pdq"].threshold == pdq.DEFAULT_THRESHOLD
    assert REGISTRY["pdq-variant"].threshold == robust.VARIANT_THRESHOLD
    assert REGISTRY["local-features"].threshold == robust.MIN_INLIERS
