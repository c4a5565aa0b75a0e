"""One registry of signal types: what every hash and every assertion Rempart keeps is.

Why: a new hash used to touch some sixteen places (the submission parser, bank import, the
indexed types, the exact lookups, the API's accepted names, four list formats with their
own names, the change feed...), each with its own hard-coded list, and an assertion-type
signal (a C2PA claim, a watermark, a derivation) had nowhere to be declared. Here each
type says once what it is: its name and aliases, the media it applies to, how a value is
validated and normalised, its family, the index it is searched in and its default
threshold, whether partners may receive it and under which name in each list format, the
`indicates` values it may produce (assertions), and where its values are computed from a
media file. Everything else reads `REGISTRY` (docs/architecture.md, "Adding a signal
type"); tests/signals/test_signal_types.py checks every registered type.

Import-cheap on purpose (the command line's start-up budget): no numpy, PIL or OpenCV here;
a type's computing function and detector are named by dotted path and imported only when
called, as synthetic/base.py runs its detectors.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from rempart.errors import InvalidInput

Family = Literal[
    "exact-digest",  # MD5, SHA-256: the same bytes
    "binary-256",  # PDQ: a 256-bit perceptual hash, compared by Hamming distance
    "frame-hashes",  # vPDQ: a video's per-frame PDQ hashes
    "region-variant",  # PDQ of a part or a variant of the picture (crops, halves)
    "local-features",  # keypoints and their descriptors
    "assertion",  # a claim a file carries or a match implies (C2PA, watermark, ...)
]
Media = Literal["photo", "video", "any"]

FAMILIES: tuple[str, ...] = (
    "exact-digest",
    "binary-256",
    "frame-hashes",
    "region-variant",
    "local-features",
    "assertion",
)
MEDIA: tuple[str, ...] = ("photo", "video", "any")
# The list formats a type may be exchanged in (exchange/lists.py's FORMATS, and
# python-threatexchange's signal file, which exchange/hma.py reads as HMA's text form).
LIST_FORMATS: tuple[str, ...] = ("rempart", "stopncii", "hma", "csv", "threatexchange")
# The indexes a type's values are searched in: "pdq" the bank's binary index
# (store/bank_index.py), "descriptors" the keypoint index (store/feature_index.py), "exact"
# the database's index on item_signals.value.
INDEXES: tuple[str, ...] = ("pdq", "descriptors", "exact")
# What an assertion may point at (= rempart.signals.synthetic.base.Indicates).
INDICATES: tuple[str, ...] = ("ai-generated", "ai-modified", "provenance-invalid")
MAX_VALUE_CHARS = 1024  # a longer value is refused before it is looked at
_HEX = re.compile(r"^[0-9a-f]*$")


class InvalidSignalValue(InvalidInput):
    """A signal value (or a signal type's name) that is not one: says which and why."""


@dataclass(frozen=True)
class SignalType:
    """One signal type. `name` is how it is stored (item_signals.signal_type) and shown."""

    name: str
    family: Family
    media: Media
    description: str
    aliases: tuple[str, ...] = ()  # other names it is known by (formats, partners, fields)
    hex_chars: int | None = None  # a value is this many hexadecimal characters
    index: str | None = None  # one of INDEXES, or None (kept, never searched by value)
    threshold: int | None = None  # default match threshold (Hamming bits, inliers; 0: exact)
    exchanged: bool = False  # partners may receive it in hash lists and its withdrawals
    # list format -> its name there (not hashed: a type stays usable as a set member)
    list_names: dict[str, str] = field(default_factory=dict, hash=False)
    lookup_names: tuple[str, ...] = ()  # names the API's hash lookup takes (name first)
    identifying: int | None = None  # rank as an entry's identifying hash (0 first)
    derived: bool = False  # computed from another of the entry's signals (a part, a variant)
    indicates: tuple[str, ...] = ()  # assertions: what it may point at
    detector: str | None = None  # assertions: module with `detect(path, kind, limits)`
    optional: bool = False  # the detector runs only when an organisation configured it
    compute: str | None = None  # "module:function": a media file's values (list of str)
    examples: tuple[str, ...] = ()  # canonical valid values (the conformance test's)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def applies_to(self, media: str) -> bool:
        """Whether the type applies to `media` ("photo" or "video")."""
        return self.media == "any" or self.media == media

    def list_name(self, fmt: str) -> str | None:
        """Its name in list format `fmt`, or None when that format does not carry it."""
        return self.list_names.get(fmt)

    def validate(self, value: object) -> str:
        """The normalised value (hex: stripped, lowercase), or InvalidSignalValue saying
        what is wrong with it."""
        if not isinstance(value, str):
            raise InvalidSignalValue(f"a {self.name} value must be text")
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidSignalValue(
                f"a {self.name} value of {len(value)} characters is too long"
                + (f": it is {self.hex_chars} hexadecimal characters" if self.hex_chars else "")
            )
        text = value.strip()
        if not text:
            raise InvalidSignalValue(f"a {self.name} value is empty")
        if self.family == "assertion":
            if text not in self.indicates:
                raise InvalidSignalValue(
                    f"a {self.name} signal indicates one of {', '.join(self.indicates)}, "
                    f"not {text[:40]!r}"
                )
            return text
        if self.hex_chars is not None:
            text = text.lower()
            if len(text) != self.hex_chars or not _HEX.match(text):
                raise InvalidSignalValue(
                    f"a {self.name} hash is {self.hex_chars} hexadecimal characters"
                )
        return text

    def values_from(self, path: Path) -> list[str]:
        """The values this type computes from a media file (its module imported now)."""
        if self.compute is None:
            raise InvalidSignalValue(f"signal type {self.name} is not computed from a file")
        module, _, function = self.compute.partition(":")
        compute = cast(
            Callable[[Path], list[str]], getattr(importlib.import_module(module), function)
        )
        return compute(path)


class Registry:
    """Signal types by name and alias, in the order they were registered (the order of
    every list derived from it)."""

    def __init__(self) -> None:
        self._types: dict[str, SignalType] = {}
        self._names: dict[str, SignalType] = {}  # every name and alias, folded to lowercase

    def register(self, t: SignalType) -> SignalType:
        """Add a type; ValueError when one of its names is taken (aliases included, case
        folded: "ImagePDQ" and "imagepdq" are one name) or a declaration is impossible."""
        if t.family not in FAMILIES or t.media not in MEDIA:
            raise ValueError(f"signal type {t.name}: unknown family or media")
        if t.index is not None and t.index not in INDEXES:
            raise ValueError(f"signal type {t.name}: unknown index {t.index!r}")
        if not set(t.list_names) <= set(LIST_FORMATS):
            raise ValueError(f"signal type {t.name}: unknown list format")
        if not set(t.indicates) <= set(INDICATES):
            raise ValueError(f"signal type {t.name}: unknown indicates")
        for name in {n.lower() for n in t.names}:
            if name in self._names:
                raise ValueError(
                    f"signal type {t.name}: the name {name!r} is {self._names[name].name}'s"
                )
        self._types[t.name] = t
        for name in t.names:
            self._names[name.lower()] = t
        return t

    def unregister(self, name: str) -> None:
        """Remove a type (tests register a broken one and take it out again)."""
        t = self._types.pop(name)
        for n in t.names:
            self._names.pop(n.lower(), None)

    def __iter__(self) -> Iterator[SignalType]:
        return iter(tuple(self._types.values()))

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._names

    def __getitem__(self, name: str) -> SignalType:
        return self._types[name]

    def find(self, name: str) -> SignalType | None:
        """The type a name or alias stands for (any case), or None."""
        return self._names.get(name.strip().lower()) if isinstance(name, str) else None

    def get(self, name: str) -> SignalType:
        """The type a name or alias stands for; InvalidSignalValue naming the known ones."""
        found = self.find(name)
        if found is None:
            raise InvalidSignalValue(
                f"unknown signal type {str(name)[:40]!r}: one of {', '.join(self._types)}"
            )
        return found

    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    def every_name(self) -> frozenset[str]:
        """Every name and alias, as declared."""
        return frozenset(n for t in self._types.values() for n in t.names)

    def indexed(self, index: str = "pdq") -> tuple[str, ...]:
        """The types searched in `index` ("pdq": store/bank_index.py's binary index)."""
        return tuple(t.name for t in self if t.index == index)

    def exchanged(self) -> tuple[str, ...]:
        """The types partners may receive (hash lists, change feeds, withdrawals)."""
        return tuple(t.name for t in self if t.exchanged)

    def family(self, family: str) -> tuple[str, ...]:
        return tuple(t.name for t in self if t.family == family)

    def identifying(self) -> tuple[str, ...]:
        """The types that identify an entry, best first (sha256, md5, pdq)."""
        ranked = [t for t in self if t.identifying is not None]
        return tuple(t.name for t in sorted(ranked, key=lambda t: cast(int, t.identifying)))

    def exact(self) -> tuple[str, ...]:
        """The exact digests, in the order an entry is identified by them (sha256, md5)."""
        exact = set(self.family("exact-digest"))
        return tuple(n for n in self.identifying() if n in exact)

    def derived(self) -> tuple[str, ...]:
        return tuple(t.name for t in self if t.derived)

    def in_list(self, fmt: str) -> dict[str, SignalType]:
        """List format `fmt`'s names of the exchanged types it carries -> the type."""
        return {name: t for t in self if t.exchanged and (name := t.list_name(fmt)) is not None}

    def lookup_names(self) -> dict[str, str]:
        """The names the API's hash lookup accepts -> the type: every type's own name
        first, then the aliases (pdq, md5, sha256, video_md5)."""
        out = {t.name: t.name for t in self if t.lookup_names}
        for t in self:
            out.update({n: t.name for n in t.lookup_names if n != t.name})
        return out

    def hex_chars(self) -> dict[str, int]:
        """Type -> the hexadecimal length of its values, for the exchanged types."""
        return {t.name: t.hex_chars for t in self if t.exchanged and t.hex_chars}

    def assertions(self) -> tuple[SignalType, ...]:
        return tuple(t for t in self if t.family == "assertion")

    def detectors(self, *, optional: bool = False) -> tuple[str, ...]:
        """The detector modules of the assertion types (the optional ones only if asked)."""
        return tuple(
            t.detector for t in self.assertions() if t.detector and (optional or not t.optional)
        )


REGISTRY = Registry()

_VALUES = "rempart.signals.type_values"  # the computing functions of the types below

# --- the types, in the order every derived list follows -----------------------------------
# Adding one: a module that computes it (and, for an assertion, detects it), then one
# `REGISTRY.register(SignalType(...))` here. Thresholds are the values the matching code
# uses (checked by the conformance test); they are declared here, not changed here.

PDQ = REGISTRY.register(
    SignalType(
        "pdq",
        "binary-256",
        "photo",
        "PDQ, Meta's perceptual image hash (signals/pdq.py); quality in its own column",
        aliases=("ImagePDQ", "pdq_hex"),
        hex_chars=64,
        index="pdq",
        threshold=31,  # pdq.DEFAULT_THRESHOLD, Meta's PDQ_CONFIDENT_MATCH_THRESHOLD
        exchanged=True,
        list_names={
            "rempart": "pdq",
            "stopncii": "ImagePDQ",
            "hma": "pdq",
            "csv": "pdq",
            "threatexchange": "pdq",
        },
        lookup_names=("pdq",),
        identifying=2,
        compute=f"{_VALUES}:pdq",
        examples=("f" * 64, "e64cc9d91c623e1d8bfe3d2c3ed33bfe9be6e3333ee1ce1b1c7c1f3e1b1e3c3c"),
    )
)
MD5 = REGISTRY.register(
    SignalType(
        "md5",
        "exact-digest",
        "any",
        "MD5 of the file's bytes (signals/exact.py): what StopNCII exchanges for videos",
        aliases=("video_md5", "VideoMD5"),
        hex_chars=32,
        index="exact",
        threshold=0,
        exchanged=True,
        list_names={
            "rempart": "md5",
            "stopncii": "VideoMD5",
            "hma": "video_md5",
            "threatexchange": "video_md5",
        },
        lookup_names=("md5", "video_md5"),
        identifying=1,
        compute=f"{_VALUES}:md5",
        examples=("d41d8cd98f00b204e9800998ecf8427e",),
    )
)
SHA256 = REGISTRY.register(
    SignalType(
        "sha256",
        "exact-digest",
        "any",
        "SHA-256 of the file's bytes (signals/exact.py)",
        aliases=("video_sha256",),
        hex_chars=64,
        index="exact",
        threshold=0,
        exchanged=True,
        list_names={"rempart": "sha256", "hma": "video_sha256", "threatexchange": "video_sha256"},
        lookup_names=("sha256",),
        identifying=0,
        compute=f"{_VALUES}:sha256",
        examples=("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",),
    )
)
VPDQ = REGISTRY.register(
    SignalType(
        "vpdq",
        "frame-hashes",
        "video",
        "a video's frame hashes, vPDQ-compatible (signals/vpdq.py); time in `extra`; they "
        "travel inside a Rempart list's video items, never alone",
        hex_chars=64,
        index="pdq",
        threshold=31,  # the bank's threshold (pdq.DEFAULT_THRESHOLD by default)
        compute=f"{_VALUES}:vpdq",
        examples=("0" * 63 + "1",),
    )
)
VPDQ_REGION = REGISTRY.register(
    SignalType(
        "vpdq-region",
        "region-variant",
        "video",
        "PDQ of each half of a video frame (top, bottom, left, right; signals/vpdq.py); "
        "region and time in `extra`",
        hex_chars=64,
        index="pdq",
        threshold=31,  # the bank's threshold
        derived=True,
        compute=f"{_VALUES}:vpdq_region",
        examples=("a" * 64,),
    )
)
PDQ_VARIANT = REGISTRY.register(
    SignalType(
        "pdq-variant",
        "region-variant",
        "photo",
        "PDQ of a photo's crops, rotations and regions (signals/pdq_variants.py); kind and "
        "name in `extra`; matched by the robust stage (regions within 22 bits)",
        hex_chars=64,
        index="pdq",
        threshold=31,  # scan/robust.py VARIANT_THRESHOLD
        derived=True,
        compute=f"{_VALUES}:pdq_variant",
        examples=("5" * 64,),
    )
)
LOCAL_FEATURES = REGISTRY.register(
    SignalType(
        "local-features",
        "local-features",
        "photo",
        "a photo's ORB keypoints (signals/local_features.py): the value is the SHA-256 of "
        "their text form, the features themselves in `extra`",
        hex_chars=64,
        index="descriptors",
        threshold=12,  # scan/robust.py MIN_INLIERS: agreeing keypoint pairs
        derived=True,
        compute=f"{_VALUES}:local_features",
        examples=("0123456789abcdef" * 4,),
    )
)

# Assertions (docs/synthetic.md): evidence a file carries or a match implies, never a verdict.
_SYNTHETIC = "rempart.signals.synthetic"
C2PA = REGISTRY.register(
    SignalType(
        "c2pa",
        "assertion",
        "any",
        "a C2PA manifest's digital source types and validation (signals/synthetic/c2pa.py)",
        indicates=("ai-generated", "ai-modified", "provenance-invalid"),
        detector=f"{_SYNTHETIC}.c2pa",
        compute=f"{_VALUES}:c2pa",
        examples=("ai-generated", "provenance-invalid"),
    )
)
XMP = REGISTRY.register(
    SignalType(
        "xmp",
        "assertion",
        "any",
        "XMP Iptc4xmpExt:DigitalSourceType (signals/synthetic/xmp.py)",
        indicates=("ai-generated", "ai-modified"),
        detector=f"{_SYNTHETIC}.xmp",
        compute=f"{_VALUES}:xmp",
        examples=("ai-generated", "ai-modified"),
    )
)
GENERATOR_METADATA = REGISTRY.register(
    SignalType(
        "generator-metadata",
        "assertion",
        "any",
        "a generator's PNG text, EXIF or XMP (signals/synthetic/metadata.py, data/generators.toml)",
        indicates=("ai-generated", "ai-modified"),
        detector=f"{_SYNTHETIC}.metadata",
        compute=f"{_VALUES}:generator_metadata",
        examples=("ai-generated",),
    )
)
INVISIBLE_WATERMARK = REGISTRY.register(
    SignalType(
        "invisible-watermark",
        "assertion",
        "photo",
        "a DWT-DCT generator watermark (signals/synthetic/watermark.py): fragile",
        indicates=("ai-generated",),
        detector=f"{_SYNTHETIC}.watermark",
        compute=f"{_VALUES}:invisible_watermark",
        examples=("ai-generated",),
    )
)
DERIVATION = REGISTRY.register(
    SignalType(
        "derivation",
        "assertion",
        "photo",
        "a match to a banked photo through a region or keypoints: part of her photo kept, "
        "the rest changed (signals/synthetic/derivation.py, made by the scan's matching)",
        indicates=("ai-modified",),
        examples=("ai-modified",),
    )
)
LEARNED_DETECTOR = REGISTRY.register(
    SignalType(
        "learned-detector",
        "assertion",
        "photo",
        "an organisation's ONNX model by path, off by default "
        "(signals/synthetic/learned.py, REMPART_LEARNED_DETECTOR)",
        indicates=("ai-generated",),
        detector=f"{_SYNTHETIC}.learned",
        optional=True,
        examples=("ai-generated",),
    )
)


def get(name: str) -> SignalType:
    """REGISTRY.get: the type a name or alias stands for."""
    return REGISTRY.get(name)
