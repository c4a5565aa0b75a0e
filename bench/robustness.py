"""Finding power (issue 3): recall per transformation at 99.99% precision, Thorn's method.

Originals: ordinary photos (generated abstract scenes, plus the ordinary photos of
../shared/testdata when present). Distractors: many unrelated generated photos. Each
original is transformed (JPEG, resize, blur, overlays, rotation, mirror, crops, pads, a
screenshot frame, greyscale, a region replaced by other photo content, a face-preserving
composite). For each method and transformation: the largest distance threshold at which
precision (true matches / all matches, distractors counted against every original) stays
>= 99.99%, and the recall there. Methods, side by side in one run: plain PDQ (Meta's, via
pdqhash), pHash (imagehash), Rempart (PDQ under the 8 rotations/flips, as `rempart scan`).
Thorn's `perception` package does not install beside Rempart (it requires rich < 14).

    .venv/bin/python bench/robustness.py [--quick] [--originals 150] [--distractors 3000]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from rempart.samples import photo_like
from rempart.signals.pdq import pdq_dihedral, pdq_hash

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared/testdata"
PRECISION = 0.9999


def _jpeg(img: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _crop(img: Image.Image, frac: float) -> Image.Image:
    w, h = img.size
    return img.crop((int(w * frac), int(h * frac), int(w * (1 - frac)), int(h * (1 - frac))))


def _pad(img: Image.Image, frac: float, blurred: bool) -> Image.Image:
    w, h = img.size
    pw, ph = int(w * frac), int(h * frac)
    if blurred:
        canvas = img.resize((w + 2 * pw, h + 2 * ph)).filter(ImageFilter.GaussianBlur(20))
    else:
        canvas = Image.new("RGB", (w + 2 * pw, h + 2 * ph), (0, 0, 0))
    canvas.paste(img, (pw, ph))
    return canvas


def _text(img: Image.Image) -> Image.Image:
    out = img.copy()
    d = ImageDraw.Draw(out)
    w, h = out.size
    d.rectangle((0, int(h * 0.82), w, h), fill=(255, 255, 255))
    d.text((10, int(h * 0.85)), "SHARED IN THE GROUP - DO NOT REPOST " * 2, fill=(0, 0, 0))
    return out


def _logo(img: Image.Image) -> Image.Image:
    out = img.copy()
    w, h = out.size
    ImageDraw.Draw(out).ellipse((int(w * 0.72), int(h * 0.05), int(w * 0.95), int(h * 0.3)),
                                fill=(230, 40, 40), outline=(255, 255, 255), width=4)
    return out


def _screenshot(img: Image.Image) -> Image.Image:
    w, h = img.size
    canvas = Image.new("RGB", (w + 40, h + 220), (245, 245, 245))
    d = ImageDraw.Draw(canvas)
    d.rectangle((0, 0, w + 40, 90), fill=(40, 40, 60))
    d.text((20, 30), "12:41  chat  >  photos", fill=(255, 255, 255))
    d.rectangle((0, h + 130, w + 40, h + 220), fill=(220, 220, 220))
    canvas.paste(img, (20, 110))
    return canvas


def _replace(img: Image.Image, area: float, filler: Image.Image) -> Image.Image:
    """A body-like region in the middle/lower part replaced by other photo content."""
    w, h = img.size
    rw, rh = int(w * area**0.5), int(h * area**0.5)
    x0, y0 = (w - rw) // 2, h - rh - int(h * 0.05)
    out = img.copy()
    out.paste(filler.resize((rw, rh)), (x0, max(0, y0)))
    return out


def _composite(img: Image.Image, filler: Image.Image) -> Image.Image:
    """Upper third kept (the face and hair), the rest replaced by other content."""
    w, h = img.size
    out = filler.resize((w, h))
    out.paste(img.crop((0, 0, w, h // 3)), (0, 0))
    return out


def transforms(filler: Image.Image) -> dict[str, Callable[[Image.Image], Image.Image]]:
    return {
        "JPEG q95": lambda i: _jpeg(i, 95), "JPEG q50": lambda i: _jpeg(i, 50),
        "resize 50%": lambda i: i.resize((i.width // 2, i.height // 2)),
        "resize 25%": lambda i: i.resize((i.width // 4, i.height // 4)),
        "blur": lambda i: i.filter(ImageFilter.GaussianBlur(3)),
        "text overlay": _text, "logo overlay": _logo,
        "rotate 4": lambda i: i.rotate(4, expand=True),
        "rotate 10": lambda i: i.rotate(10, expand=True),
        "mirror": ImageOps.mirror, "crop 5%": lambda i: _crop(i, 0.05),
        "crop 10%": lambda i: _crop(i, 0.10), "pad 20% solid": lambda i: _pad(i, 0.2, False),
        "pad 20% blurred": lambda i: _pad(i, 0.2, True), "screenshot": _screenshot,
        "greyscale": lambda i: ImageOps.grayscale(i).convert("RGB"),
        "region replaced 30%": lambda i: _replace(i, 0.30, filler),
        "region replaced 50%": lambda i: _replace(i, 0.50, filler),
        "face-preserving composite": lambda i: _composite(i, filler),
    }  # fmt: skip


# --- methods: hash(image) -> opaque; distance(a, b) -> int ---------------------------------


def _bits(hexes: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint64).reshape(len(hexes), -1)


class Method:
    name = ""

    def hash_stored(self, img: Image.Image) -> list[str]:
        """Hashes stored for an original (one or several)."""
        raise NotImplementedError

    def hash_query(self, img: Image.Image) -> list[str]:
        """Hashes computed for a found image (one or several)."""
        raise NotImplementedError


class PlainPdq(Method):
    name = "PDQ (Meta, pdqhash)"

    def hash_stored(self, img: Image.Image) -> list[str]:
        return [pdq_hash(img).hex]

    hash_query = hash_stored


class PHash(Method):
    name = "pHash (imagehash)"

    def hash_stored(self, img: Image.Image) -> list[str]:
        return [str(imagehash.phash(img, hash_size=16))]  # 256 bits like PDQ

    hash_query = hash_stored


class RempartNow(Method):
    name = "Rempart (PDQ x 8 transforms)"

    def hash_stored(self, img: Image.Image) -> list[str]:
        return [pdq_hash(img).hex]

    def hash_query(self, img: Image.Image) -> list[str]:
        return [h.hex for _, h in pdq_dihedral(img)]


def min_distances(queries: list[list[str]], stored: list[list[str]]) -> np.ndarray:
    """Distance of every query image to every original: the minimum over their hashes."""
    s_hex = [h for hs in stored for h in hs]
    s_owner = np.repeat(np.arange(len(stored)), [len(hs) for hs in stored])
    s_bits = _bits(s_hex)
    out = np.full((len(queries), len(stored)), 10**6, dtype=np.int64)
    for qi, qs in enumerate(queries):
        q = _bits(qs)
        dist = np.zeros((len(q), len(s_bits)), dtype=np.int64)
        for w in range(s_bits.shape[1]):
            dist += np.bitwise_count(q[:, w][:, None] ^ s_bits[:, w][None, :])
        best = dist.min(axis=0)
        np.minimum.at(out[qi], s_owner, best)
    return out


def recall_at_precision(pos: np.ndarray, neg: np.ndarray, n: int) -> tuple[float, int]:
    """pos: distance of each transformed copy to its own original; neg: each distractor's
    distance to its nearest original. The largest threshold with precision >= 99.99%."""
    best = (0.0, -1)
    for t in range(0, 257):
        tp = int((pos <= t).sum())
        fp = int((neg <= t).sum())
        if tp + fp and tp / (tp + fp) >= PRECISION:
            best = (tp / n, t)
        elif tp + fp:
            break
    return best


def originals(count: int) -> list[Image.Image]:
    out = []
    folder = SHARED / "threatexchange/pdq/data/reg-test-input/labelme-subset"
    shared = sorted(folder.glob("*.jp*g")) if folder.is_dir() else []
    for p in shared:
        out.append(Image.open(p).convert("RGB"))
    for k in range(count - len(out)):
        out.append(photo_like(1000 + k, (640, 480)))
    return out[:count]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30 originals, 300 distractors")
    ap.add_argument("--originals", type=int, default=150)
    ap.add_argument("--distractors", type=int, default=3000)
    args = ap.parse_args(argv)
    if args.quick:
        args.originals, args.distractors = 30, 300
    origs = originals(args.originals)
    filler = photo_like(424242, (640, 480))
    distractors = [photo_like(50_000 + k, (480, 360)) for k in range(args.distractors)]
    methods: list[Method] = [PlainPdq(), PHash(), RempartNow()]
    tfs = transforms(filler)
    print(f"{len(origs)} originals, {len(distractors)} distractors, {len(tfs)} transformations; "
          f"recall at the threshold giving >= {100 * PRECISION:.2f}% precision")
    results: dict[str, dict[str, tuple[float, int]]] = {}
    speed: dict[str, float] = {}
    for m in methods:
        t0 = time.perf_counter()
        stored = [m.hash_stored(o) for o in origs]
        neg = min_distances([m.hash_query(d) for d in distractors], stored).min(axis=1)
        speed[m.name] = len(distractors) / (time.perf_counter() - t0)
        results[m.name] = {}
        all_pos = []
        for tname, tf in tfs.items():
            q = [m.hash_query(tf(o)) for o in origs]
            d = min_distances(q, stored)
            pos = d[np.arange(len(origs)), np.arange(len(origs))]
            all_pos.append(pos)
            results[m.name][tname] = recall_at_precision(pos, neg, len(origs))
        pooled = np.concatenate(all_pos)
        results[m.name]["overall"] = recall_at_precision(pooled, neg, len(pooled))
    names = [m.name for m in methods]
    print(f"\n{'transformation':28}" + "".join(f"{n[:26]:>28}" for n in names))
    for tname in [*tfs, "overall"]:
        cells = "".join(f"{100 * results[n][tname][0]:>21.1f}% (t={results[n][tname][1]:>3})"
                        for n in names)  # fmt: skip
        print(f"{tname:28}{cells}")
    print("\nhashing + matching cost, distractors per second (1 process): "
          + ", ".join(f"{n} {v:.0f}/s" for n, v in speed.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
