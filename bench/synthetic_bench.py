"""Synthetic-media signals (issue 15): how often each signal fires, on what, and at what cost.

Why: a signal quoted in a notice must come with its error rates. This counts, per signal
type (c2pa, xmp, generator-metadata, and whatever else base.DETECTORS runs) and for "any
signal" and "any strong signal", TP/FP/TN/FN with precision and recall and their 95% Wilson
intervals, on two tasks:

- **AI**: positives are files that declare AI generation or AI editing; a hit is an
  ai-generated or ai-modified finding. Negatives are ordinary photos (real camera photos
  from ../shared/testdata/faces, generated photo-like scenes, each also JPEG-recompressed at
  q75, resized 50% and framed as a screenshot), the C2PA fixtures that declare plain
  algorithmicMedia or nothing, and the valid public-testfiles.
- **Tampered**: positives are the tampered C2PA fixtures (E-*, X*); a hit is a
  provenance-invalid finding; negatives are every untampered file above.

Positives are few and mostly made here: ocsp.jpg (a real Firefly/Photoshop file) and
ordinary photos carrying the metadata generators write (A1111 `parameters`, ComfyUI
`prompt`, InvokeAI `invokeai_metadata`, XMP DigitalSourceType in JPEG/PNG/WebP). Their
recall "as found" tests the readers, not the world: the robustness slices (JPEG q75,
resize 50%, screenshot: the metadata a re-encode drops) show what survives.
Seconds per image are wall time of `inspect_file` per file, all detectors included.

Recall is also given per source (the generator or tool a positive comes from, where known).
An organisation with a labelled set of its own measures it with `--labelled DIR`: every
file under DIR/ai/<source>/ is a positive of that source (Firefly, Midjourney, a face-swap
app...), every file under DIR/real/<kind>/ a negative of that kind; their robustness slices
are added as for the built-in files.

Run: `python bench/synthetic_bench.py [--photos N] [--quick] [--labelled DIR]`
(JSON in bench/out/synthetic_bench.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.signals.synthetic import media_builders as mb  # noqa: E402

from rempart.samples import photo_like  # noqa: E402
from rempart.signals.synthetic import inspect_file  # noqa: E402
from rempart.signals.synthetic.learned_measure import wilson  # noqa: E402

TESTDATA = ROOT.parent / "shared" / "testdata"
C2PA_RS = TESTDATA / "c2pa" / "c2pa-rs"
PUBLIC = TESTDATA / "c2pa" / "public-testfiles" / "image" / "jpeg"
FACES = TESTDATA / "faces"
A1111 = "a harbour at noon\nSteps: 30, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512"
COMFY = '{"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}'


@dataclass
class Item:
    name: str
    path: Path
    label: str  # ai, tampered, negative
    kind: str  # where it comes from, for the per-kind false positives
    indicates: set[str] = field(default_factory=set)
    strong: set[str] = field(default_factory=set)
    by_type: dict[str, set[str]] = field(default_factory=dict)
    source: str = ""  # the generator or tool behind a positive, where known
    problem: str | None = None
    seconds: float = 0.0


def _save(image: Image.Image, path: Path, quality: int | None = None) -> Path:
    if quality is None:
        image.convert("RGB").save(path)
    else:
        image.convert("RGB").save(path, quality=quality)
    return path


def screenshot(image: Image.Image) -> Image.Image:
    """The picture inside a plain app frame (a top bar and margins), as a screen grab."""
    w, h = image.size
    canvas = Image.new("RGB", (w + 40, h + 120), (245, 245, 247))
    canvas.paste(Image.new("RGB", (w + 40, 56), (30, 30, 36)), (0, 0))
    canvas.paste(image.convert("RGB"), (20, 76))
    return canvas


def slices(path: Path, out: Path) -> dict[str, Path]:
    """The file re-encoded the ways found copies are: JPEG q75, resized 50%, screenshot."""
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    stem = out / path.stem
    return {
        "jpeg-q75": _save(image, stem.with_name(stem.name + "-q75.jpg"), quality=75),
        "resize-50": _save(
            image.resize((max(1, image.width // 2), max(1, image.height // 2))),
            stem.with_name(stem.name + "-half.jpg"),
            quality=90,
        ),
        "screenshot": _save(screenshot(image), stem.with_name(stem.name + "-shot.png")),
    }


def made_positives(out: Path) -> list[tuple[str, bytes]]:
    return [
        ("a1111.png", mb.png(101, mb.text("parameters", A1111))),
        ("comfy.png", mb.png(102, mb.ztext("prompt", COMFY.encode()))),
        ("invoke.png", mb.png(103, mb.itext("invokeai_metadata", '{"seed": 3}', True))),
        ("xmp-gen.jpg", mb.jpeg(104, xmp=mb.xmp_packet("trainedAlgorithmicMedia"))),
        (
            "xmp-mod.png",
            mb.png(
                105,
                mb.itext(
                    "XML:com.adobe.xmp", mb.xmp_packet("compositeWithTrainedAlgorithmicMedia")
                ),
            ),
        ),
        ("xmp-gen.webp", mb.webp(106, mb.xmp_packet("trainedAlgorithmicMedia"))),
    ]


SOURCES = {  # the built-in positives' sources
    "ocsp.jpg": "Adobe Firefly (C2PA)",
    "a1111.png": "AUTOMATIC1111 (metadata)",
    "comfy.png": "ComfyUI (metadata)",
    "invoke.png": "InvokeAI (metadata)",
    "xmp-gen.jpg": "XMP trainedAlgorithmicMedia",
    "xmp-mod.png": "XMP compositeWithTrainedAlgorithmicMedia",
    "xmp-gen.webp": "XMP trainedAlgorithmicMedia",
}
PICTURES = (".jpg", ".jpeg", ".png", ".webp")


def labelled(root: Path, work: Path) -> list[Item]:
    """An organisation's labelled set: root/ai/<source>/* positives, root/real/<kind>/*
    negatives (files directly under ai/ or real/ have source or kind "unlabelled")."""
    items: list[Item] = []
    for label, folder in (("ai", root / "ai"), ("negative", root / "real")):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if not path.is_file() or path.suffix.lower() not in PICTURES:
                continue
            group = path.parent.name if path.parent != folder else "unlabelled"
            source = group if label == "ai" else ""
            name = f"{label}/{group}/{path.name}"
            items.append(Item(name, path, label, "as found" if source else group, source=source))
            (work / f"l{len(items)}").mkdir(parents=True, exist_ok=True)
            try:
                sliced = slices(path, work / f"l{len(items)}")
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                # unreadable as a picture: inspect still reads it as found
                print(f"  {name}: no slices ({exc})", file=sys.stderr)
                continue
            for slice_name, copy in sliced.items():
                items.append(Item(f"{name} {slice_name}", copy, label, slice_name, source=source))
    return items


def collect(work: Path, photos: int, quick: bool = False) -> list[Item]:
    items: list[Item] = []
    # AI positives, as found, and their robustness slices
    positives = [("ocsp.jpg", C2PA_RS / "ocsp.jpg")]
    for name, data in made_positives(work):
        (work / name).write_bytes(data)
        positives.append((name, work / name))
    for name, path in positives:
        items.append(Item(name, path, "ai", "as found", source=SOURCES.get(name, "")))
        for slice_name, sliced in slices(path, work).items():
            items.append(
                Item(f"{name} {slice_name}", sliced, "ai", slice_name, source=SOURCES.get(name, ""))
            )
    # tampered C2PA
    tampered = [C2PA_RS / "E-sig-CA.jpg", C2PA_RS / "XCA.jpg"]
    if not quick:
        tampered += sorted(p for p in PUBLIC.glob("adobe-*-[EX]*.jpg"))
    for path in tampered:
        items.append(Item(path.name, path, "tampered", "c2pa tampered"))
    # negatives
    for name in ("C.jpg", "CA.jpg", "CACAE-uri-CA.jpg", "CIE-sig-CA.jpg", "no_manifest.jpg"):
        items.append(Item(name, C2PA_RS / name, "negative", "c2pa, no AI claim"))
    for path in [] if quick else sorted(PUBLIC.glob("adobe-*.jpg")):
        if not path.name.split("-", 2)[2].startswith(("E", "X")):
            items.append(Item(path.name, path, "negative", "c2pa, no AI claim"))
    pictures = (".jpg", ".jpeg", ".png")
    camera = [] if quick else sorted(p for p in FACES.rglob("*") if p.suffix.lower() in pictures)
    for path in camera:
        items.append(Item(path.name, path, "negative", "camera photo"))
    for seed in range(photos):
        path = _save(photo_like(1000 + seed, (480, 360)), work / f"photo{seed}.jpg", quality=90)
        items.append(Item(path.name, path, "negative", "generated photo"))
        for slice_name, sliced in slices(path, work).items():
            items.append(Item(f"{path.name} {slice_name}", sliced, "negative", slice_name))
    return items


def run(items: list[Item]) -> None:
    for item in items:
        start = time.perf_counter()
        findings, problem = inspect_file(item.path)
        item.seconds = time.perf_counter() - start
        item.problem = problem.reason if problem else None
        for f in findings:
            item.indicates.add(f.indicates)
            item.by_type.setdefault(f.type, set()).add(f.indicates)
            if f.strength == "strong":
                item.strong.add(f.indicates)


def confusion(
    items: list[Item], positive: Callable[[Item], bool], hit: Callable[[Item], bool]
) -> dict[str, object]:
    tp = sum(1 for i in items if positive(i) and hit(i))
    fn = sum(1 for i in items if positive(i) and not hit(i))
    fp = sum(1 for i in items if not positive(i) and hit(i))
    tn = sum(1 for i in items if not positive(i) and not hit(i))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": precision,
        "precision_95": wilson(tp, tp + fp),
        "recall": recall,
        "recall_95": wilson(tp, tp + fn),
    }


AI = {"ai-generated", "ai-modified"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=40, help="generated negative photos")
    parser.add_argument(
        "--quick", action="store_true", help="c2pa-rs fixtures and generated files only (tests)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "synthetic_bench.json")
    parser.add_argument(
        "--labelled",
        type=Path,
        help="an organisation's labelled set: DIR/ai/<source>/* and DIR/real/<kind>/*",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        items = collect(Path(tmp), args.photos, args.quick)
        if args.labelled:
            (Path(tmp) / "labelled").mkdir()
            added = labelled(args.labelled, Path(tmp) / "labelled")
            if not added:
                parser.error(f"--labelled {args.labelled}: no picture under ai/ or real/")
            items += added
        start = time.perf_counter()
        run(items)
        total = time.perf_counter() - start
    types = sorted({t for i in items for t in i.by_type})
    ai_items = [i for i in items if i.label in ("ai", "negative")]
    report: dict[str, object] = {"files": len(items), "load": os.getloadavg()}

    def is_ai(i: Item) -> bool:
        return i.label == "ai"

    ai_task: dict[str, object] = {}

    def has(kind: str) -> Callable[[Item], bool]:
        return lambda i: bool(i.by_type.get(kind, set()) & AI)

    for kind in types:
        ai_task[kind] = confusion(ai_items, is_ai, has(kind))
    ai_task["any signal"] = confusion(ai_items, is_ai, lambda i: bool(i.indicates & AI))
    ai_task["any strong signal"] = confusion(ai_items, is_ai, lambda i: bool(i.strong & AI))
    report["ai"] = ai_task
    report["tampered"] = confusion(
        items, lambda i: i.label == "tampered", lambda i: "provenance-invalid" in i.indicates
    )
    recall_by_slice = {}
    for kind in ("as found", "jpeg-q75", "resize-50", "screenshot"):
        group = [i for i in items if i.label == "ai" and i.kind == kind]
        k = sum(1 for i in group if i.indicates & AI)
        recall_by_slice[kind] = {"hits": k, "of": len(group), "recall_95": wilson(k, len(group))}
    report["ai_recall_by_slice"] = recall_by_slice
    recall_by_source = {}
    for source in sorted({i.source for i in items if i.label == "ai" and i.source}):
        group = [i for i in items if i.label == "ai" and i.source == source]
        found = [i for i in group if i.kind == "as found"]
        k, kf = (sum(1 for i in g if i.indicates & AI) for g in (group, found))
        recall_by_source[source] = {
            "as_found": {"hits": kf, "of": len(found), "recall_95": wilson(kf, len(found))},
            "with_slices": {"hits": k, "of": len(group), "recall_95": wilson(k, len(group))},
        }
    report["ai_recall_by_source"] = recall_by_source
    fp_by_kind = {}
    for kind in sorted({i.kind for i in items if i.label == "negative"}):
        group = [i for i in items if i.label == "negative" and i.kind == kind]
        k = sum(1 for i in group if i.indicates)
        fp_by_kind[kind] = {"any_finding": k, "of": len(group), "rate_95": wilson(k, len(group))}
    report["negatives_with_any_finding"] = fp_by_kind
    report["problems"] = {i.name: i.problem for i in items if i.problem}
    seconds = sorted(i.seconds for i in items)
    report["seconds_per_image"] = {
        "mean": total / len(items),
        "median": seconds[len(seconds) // 2],
        "max": seconds[-1],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=list) + "\n", encoding="utf-8")
    print(f"{len(items)} files, load {os.getloadavg()[0]:.1f}")
    print("AI task (positives declare AI; negatives: ordinary photos and C2PA without AI)")
    for name, c in ai_task.items():
        assert isinstance(c, dict)
        p95, r95 = c["precision_95"], c["recall_95"]
        print(
            f"  {name:20} TP {c['tp']:3} FP {c['fp']:3} TN {c['tn']:3} FN {c['fn']:3}  "
            f"precision {_pct(c['precision'])} [{p95[0]:.2f}, {p95[1]:.2f}]  "
            f"recall {_pct(c['recall'])} [{r95[0]:.2f}, {r95[1]:.2f}]"
        )
    tampered = report["tampered"]
    assert isinstance(tampered, dict)
    print(
        f"tampered C2PA: TP {tampered['tp']} FN {tampered['fn']} FP {tampered['fp']} "
        f"TN {tampered['tn']}  recall {_pct(tampered['recall'])} "
        f"[{tampered['recall_95'][0]:.2f}, {tampered['recall_95'][1]:.2f}]"
    )
    for kind, r in recall_by_slice.items():
        print(f"  AI recall {kind:11} {r['hits']}/{r['of']}")
    for source, r in recall_by_source.items():
        a, w = r["as_found"], r["with_slices"]
        print(
            f"  AI recall, {source:42} as found {a['hits']}/{a['of']}, "
            f"with re-encoded copies {w['hits']}/{w['of']} "
            f"[{w['recall_95'][0]:.2f}, {w['recall_95'][1]:.2f}]"
        )
    for kind, r in fp_by_kind.items():
        print(f"  negatives with a finding, {kind:18} {r['any_finding']}/{r['of']}")
    s = report["seconds_per_image"]
    assert isinstance(s, dict)
    print(f"seconds per image: mean {s['mean']:.4f}, median {s['median']:.4f}, max {s['max']:.3f}")
    if report["problems"]:
        print(f"files with a problem: {len(report['problems'])}")  # type: ignore[arg-type]


def _pct(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "  n/a"


if __name__ == "__main__":
    main()
