"""The synthetic-media signals of a scanned item and of a match: the one domain place the scan,
the review queue, the case page, the API, notices and `rempart report` read them from.

Why here: a scan already holds each found item's bytes (a file, an archive member, a URL
download); running rempart.signals.synthetic on those same bytes right after hashing costs
one more read, not another download. The findings are stored with the scanned item
(`scan_items.synthetic`, migration 0016). A match adds its own derivation finding, computed
from its stored details (signals.synthetic.derivation), so it needs no column.

Cost (docs/synthetic.md, "Where the signals appear"): the cheap detectors (C2PA, XMP,
generator metadata) read a file's header and boxes and always run; the invisible-watermark
decoder decodes the whole picture (about 0.04 s per Mpx on top of the decode), so a scan runs
it only where a mark can survive: lossless PNG and WebP, and JPEG saved at quality >= 95
without chroma subsampling (read from the quantisation tables and sampling factors). A JPEG
below that has lost the mark (a few percent are found after q90), so it is not decoded again.

Evidence, never a verdict: [] means "no signal found", never "real".
"""

from __future__ import annotations

import importlib
import io
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rempart.signals.synthetic.base import (
    DEFAULT_LIMITS,
    DETECTORS,
    Finding,
    Limits,
    Unreadable,
    detectors,
    file_kind,
)

WATERMARK = "rempart.signals.synthetic.watermark"
DERIVATION_METHODS = ("pdq-region", "local-features")  # = derivation.METHODS
# Mean of a JPEG's luminance quantisation table at quality 95 (libjpeg's table scaled by
# 0.1: about 5.8); above it, the picture was saved below q95 and the mark is gone.
MAX_LUMA_MEAN_Q95 = 6.0
# Words for the badges (front-ends translate them; never "real"/"fake").
BADGES = {
    "ai-generated": "AI-generated signal",
    "ai-modified": "AI-altered signal",
    "provenance-invalid": "provenance invalid",
}


def _vp8l(head: bytes) -> bool:
    """A WebP whose first image chunk is lossless (VP8L), or extended with a VP8L chunk."""
    return b"VP8L" in head[12:4096]


def jpeg_may_carry_mark(data: bytes) -> bool:
    """Whether a JPEG was saved at quality >= 95 with 4:4:4 sampling (the only JPEGs in which
    the DWT-DCT watermark survives often enough to look for it)."""
    from PIL import Image, JpegImagePlugin

    try:
        with Image.open(io.BytesIO(data)) as img:
            if not isinstance(img, JpegImagePlugin.JpegImageFile):
                return False
            tables = img.quantization or {}
            luma = tables.get(0)
            if not luma:
                return False
            if sum(luma) / len(luma) > MAX_LUMA_MEAN_Q95:
                return False
            return img.mode == "L" or JpegImagePlugin.get_sampling(img) == 0
    except Exception:  # an undecodable header: the other detectors report it
        return False


def watermark_worthwhile(kind: str, data: bytes) -> bool:
    """Whether the watermark decoder is run on this picture in a scan (see the module
    docstring): PNG, lossless WebP, TIFF, JPEG q >= 95 4:4:4."""
    if kind in ("png", "tiff"):
        return True
    if kind == "webp":
        return _vp8l(data[:4096])
    if kind == "jpeg":
        return jpeg_may_carry_mark(data)
    return False


def _run(path: Path, kind: str, modules: Iterable[str], limits: Limits) -> list[Finding]:
    findings: list[Finding] = []
    for module in modules:
        detect = importlib.import_module(module).detect
        try:
            findings.extend(detect(path, kind, limits))
        except Unreadable as exc:  # bad input in one part: what was read is kept
            findings.extend(exc.findings)
        except OSError:
            continue
        except Exception:  # a detector's bug never ends a scan
            continue
    return findings


def item_findings(
    path: Path | None,
    data: bytes | None = None,
    *,
    suffix: str = "",
    watermark: str = "auto",
    limits: Limits = DEFAULT_LIMITS,
) -> list[dict[str, Any]]:
    """The synthetic-media findings (Finding.as_json() each) of one scanned item: a file
    (`path`; `data` may hold its bytes, already read) or bytes alone (`data`: an archive
    member, a URL download, written to a private temporary file the readers open, deleted
    afterwards). `watermark`: "auto" (where a mark
    can survive), "always" or "never". Never raises for bad input: what cannot be read gives
    no finding (the item itself is hashed or skipped by the scan as usual)."""
    try:
        if data is not None:
            head = data[: 1 << 16]
        elif path is not None:
            with path.open("rb") as fh:
                head = fh.read(1 << 16)
        else:
            return []
        kind = file_kind(head[:16])
        if kind is None:
            return []
        modules = [m for m in detectors() if m != WATERMARK]  # + the learned one if set
        if WATERMARK in DETECTORS and watermark != "never":
            if watermark == "always":
                modules.append(WATERMARK)
            else:
                sample = data if data is not None else head
                if kind == "jpeg" and data is None and path is not None:
                    sample = path.read_bytes()[: 1 << 20]  # the tables are in the header
                if watermark_worthwhile(kind, sample):
                    modules.append(WATERMARK)
        if path is not None:
            found = _run(path, kind, modules, limits)
        else:
            assert data is not None
            with tempfile.TemporaryDirectory(prefix="rempart-syn-") as folder:
                ext = "".join(c for c in suffix.lower()[:10] if c.isascii() and c.isalnum())
                tmp = Path(folder) / f"item.{ext or 'bin'}"
                tmp.write_bytes(data)
                found = _run(tmp, kind, modules, limits)
    except OSError:
        return []
    return [f.as_json() for f in found]


def watermark_findings(path: Path | None, data: bytes | None = None) -> list[dict[str, Any]]:
    """The invisible-watermark finding of a found picture, where a mark can survive (see
    `watermark_worthwhile`); [] otherwise. A scan runs it on matched pictures only: the
    decoder costs about 0.04 s per Mpx, as much again as hashing a PNG, and a mark matters
    on her pictures, not on every picture of a folder (docs/synthetic.md)."""
    if WATERMARK not in DETECTORS:
        return []
    try:
        sample = data if data is not None else path.read_bytes() if path is not None else b""
        kind = file_kind(sample[:16])
        if kind is None or not watermark_worthwhile(kind, sample):
            return []
        if path is not None and data is None:
            found = _run(path, kind, [WATERMARK], DEFAULT_LIMITS)
        else:
            with tempfile.TemporaryDirectory(prefix="rempart-wm-") as folder:
                tmp = Path(folder) / "item"
                tmp.write_bytes(sample)
                found = _run(tmp, kind, [WATERMARK], DEFAULT_LIMITS)
    except OSError:
        return []
    return [f.as_json() for f in found]


def match_findings(
    item_synthetic: Sequence[Mapping[str, Any]] | None, details: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The synthetic-media findings of a match: its found item's findings, then the
    derivation finding when the match shows a replaced part of her photo."""
    out = [dict(f) for f in item_synthetic or [] if isinstance(f, Mapping)]
    if isinstance(details, Mapping) and details.get("method") in DERIVATION_METHODS:
        # imported here: the review list reads matches without the image libraries
        from rempart.signals.synthetic.derivation import from_details

        derived = from_details(details)
        if derived is not None:
            out.append(derived.as_json())
    return out


def summary_text(findings: Iterable[Mapping[str, Any]]) -> str:
    """The CSV form: "indicates:type" joined by ";" (e.g.
    "ai-modified:c2pa;ai-generated:invisible-watermark"); "" when none."""
    return ";".join(f"{f.get('indicates')}:{f.get('type')}" for f in findings)


def strong(findings: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The findings strong enough for a notice to state (never fragile or weak ones)."""
    return [f for f in findings if f.get("strength") == "strong"]


def badges(findings: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One badge per finding for the pages: its words key, the signal type and strength."""
    return [
        {
            "indicates": str(f.get("indicates")),
            "label": BADGES.get(str(f.get("indicates")), str(f.get("indicates"))),
            "type": str(f.get("type")),
            "strength": str(f.get("strength")),
        }
        for f in findings
    ]


def c2pa_files(data: bytes, suffix: str = "") -> dict[str, bytes]:
    """For an evidence package: the raw C2PA manifest store of a file (the c2pa reader's
    JSON, as it is) and its validation report (state, status codes, results, the trust lists
    used), as files; {} when the file carries no manifest or it cannot be read. No network:
    the reader's settings turn remote manifests and OCSP off (signals/synthetic/c2pa.py)."""
    from rempart.signals.synthetic import c2pa

    kind = file_kind(data[:16])
    if kind is None:
        return {}
    ext = "".join(c for c in suffix.lower()[:10] if c.isascii() and c.isalnum())
    try:
        with tempfile.TemporaryDirectory(prefix="rempart-c2pa-") as folder:
            tmp = Path(folder) / f"item.{ext or 'bin'}"
            tmp.write_bytes(data)
            read = c2pa.read_store(tmp, kind, DEFAULT_LIMITS)
    except (Unreadable, OSError):
        return {}
    if read is None:
        return {}
    store, state, trust_lists = read
    report = {
        "validation_state": state,
        "validation_status": store.get("validation_status"),
        "validation_results": store.get("validation_results"),
        "active_manifest": store.get("active_manifest"),
        "trust_lists": list(trust_lists),
    }
    return {
        "c2pa/manifest_store.json": json.dumps(store, indent=2, ensure_ascii=False).encode(),
        "c2pa/validation_report.json": json.dumps(report, indent=2, ensure_ascii=False).encode(),
    }
