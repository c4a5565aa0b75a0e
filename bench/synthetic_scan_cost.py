"""What looking for synthetic-media signals adds to a scan (issue 15 item 3, target <= 10%):
the same folder of generated 1-Mpx photos (JPEG q88 as most found pictures are, and a share of
PNG, where the watermark decoder runs) scanned with and without (`--no-synthetic`), one
process, the two alternated `--repeat` times (best of each: the machine is shared), and the
watermark decoder's own share measured apart. Writes bench/out/synthetic_scan_cost.json.

    .venv/bin/python bench/synthetic_scan_cost.py [--images 200] [--png-share 0.2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from rempart.samples import photo_like
from rempart.scan import synthetic
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--size", default="1152x864")  # about 1 Mpx
    ap.add_argument("--png-share", type=float, default=0.2)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    pngs = round(args.images * args.png_share)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        media = root / "media"
        media.mkdir()
        for k in range(args.images):
            img = photo_like(k, (w, h))
            if k < pngs:
                img.save(media / f"{k:05d}.png")
            else:
                img.save(media / f"{k:05d}.jpg", quality=88)
        db = Database(f"sqlite:///{root / 'b.db'}")
        index = BankIndex(db, root / "home")
        with db.session() as s:
            repository.create_bank(s, "bench")
        best: dict[bool, float] = {True: float("inf"), False: float("inf")}
        for _ in range(args.repeat):
            for on in (False, True):
                t0 = time.perf_counter()
                result = run_scan(db, index, [media], ScanOptions(workers=1, synthetic=on))
                best[on] = min(best[on], time.perf_counter() - t0)
                assert result.hashed == args.images
        t0 = time.perf_counter()
        for path in sorted(media.iterdir()):
            synthetic.item_findings(path, path.read_bytes(), watermark="never")
        cheap = time.perf_counter() - t0
        t0 = time.perf_counter()
        for path in sorted(media.iterdir()):
            synthetic.item_findings(path, path.read_bytes(), watermark="always")
        every = time.perf_counter() - t0
    added = best[True] / best[False] - 1
    out = {
        "images": args.images,
        "size": f"{w}x{h}",
        "png": pngs,
        "scan_seconds_without": round(best[False], 2),
        "scan_seconds_with": round(best[True], 2),
        "added_percent": round(100 * added, 1),
        "cheap_detectors_seconds_per_image": round(cheap / args.images, 4),
        "all_detectors_watermark_everywhere_seconds_per_image": round(every / args.images, 4),
        "watermark_everywhere_added_percent_estimate": round(
            100 * (every - cheap) / best[False], 1
        ),
        "load": os.getloadavg(),
    }
    print(json.dumps(out, indent=2))
    target = Path(__file__).parent / "out" / "synthetic_scan_cost.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
