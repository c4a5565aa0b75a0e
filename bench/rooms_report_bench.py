"""Rooms report benchmark (issue 16 item 5, the report half): how long `rempart rooms report`
takes over a generated database of N rooms (default 100) with M media items each.

Why generated rows and not scanned exports: the report reads only what scans recorded
(scan items with their Telegram provenance, matches and their sightings), so the rows are
written directly, as a scan writes them: each room has its own chat id and members, a
quarter of the rooms are renamed re-exports of another, a few media per room are forwarded
from another room (the same SHA-256), and some items match banked entries of 20 cases.
Timed separately: the figures (rempart.cases.rooms_report.collect, including the links
between every pair of rooms and their PDQ comparison), the charts and the HTML page
(rooms_render.write). Writes bench/out/rooms_report_bench.json.

    .venv/bin/python bench/rooms_report_bench.py                     # 100 rooms x 200 media
    .venv/bin/python bench/rooms_report_bench.py --rooms 20 --items 50 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def build(url: str, rooms: int, items: int, seed: int = 7) -> dict[str, int]:
    """Write the rows: banks and cases, one scan run, rooms x items scan items, matches."""
    from rempart.store import repository
    from rempart.store.db import Database
    from rempart.store.models import (
        BankItem,
        Case,
        Match,
        MatchOccurrence,
        ScanItem,
        ScanRun,
    )

    rng = random.Random(seed)
    db = Database(url)
    with db.session() as s:
        bank = repository.create_bank(s, "ncii")
        s.flush()
        cases = [Case(number=f"CASE-{i:03d}") for i in range(20)]
        s.add_all(cases)
        s.flush()
        entries = [BankItem(bank_id=bank.id, case_id=cases[i % 20].id) for i in range(200)]
        s.add_all(entries)
        run = ScanRun(status="done")
        s.add(run)
        s.flush()
        shas: list[list[str]] = []
        matched = 0
        for r in range(rooms):
            renamed = r % 4 == 3  # a re-export of room r-1 under another name
            chat_id = str(10_000 + (r - 1 if renamed else r))
            name = f"Room {r}" + (" (new)" if renamed else "")
            room_shas: list[str] = []
            rows = []
            for i in range(items):
                if shas and rng.random() < 0.05:  # forwarded from an earlier room
                    src = rng.randrange(len(shas))
                    sha, fwd = rng.choice(shas[src]), f"Room {src}"
                else:
                    sha, fwd = f"{rng.getrandbits(256):064x}", None
                room_shas.append(sha)
                prov = {
                    "source": "telegram",
                    "export": f"/exports/{r:03d}",
                    "chat": name,
                    "chat_type": "private_supergroup",
                    "chat_id": chat_id,
                    "message_id": str(i + 1),
                    "date": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00",
                    "from": f"Member {rng.randrange(40) + r // 10 * 20}",
                    "from_id": f"user{rng.randrange(40) + r // 10 * 20}",
                }
                if fwd:
                    prov["forwarded_from"] = fwd
                if i % 10 == 0:
                    prov["via_bot"] = f"@bot{r % 5}"
                rows.append(
                    ScanItem(
                        scan_id=run.id,
                        locator=f"/exports/{r:03d}/photos/{i}.jpg#message={i + 1}",
                        status="hashed",
                        sha256=sha,
                        md5=sha[:32],
                        pdq=f"{rng.getrandbits(256):064x}",
                        pdq_quality=90,
                        provenance=prov,
                    )
                )
            s.add_all(rows)
            s.flush()
            for row in rows[:: max(1, items // 10)]:  # about 10 matches per room
                m = Match(
                    scan_item_id=row.id,
                    bank_item_id=entries[rng.randrange(len(entries))].id,
                    signal_type="sha256",
                    content_sha256=row.sha256,
                )
                s.add(m)
                s.flush()
                s.add(MatchOccurrence(match_id=m.id, scan_item_id=row.id))
                matched += 1
            shas.append(room_shas)
    db.dispose()
    return {"rooms": rooms, "items": rooms * items, "matches": matched}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--items", type=int, default=200, help="media items per room")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    ap.add_argument("--out", type=Path, default=OUT / "rooms_report_bench.json")
    args = ap.parse_args()

    from rempart.cases import rooms_render, rooms_report
    from rempart.store.db import Database

    with tempfile.TemporaryDirectory(prefix="rooms-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        sizes = build(url, args.rooms, args.items)
        build_s = time.perf_counter() - t0
        db = Database(url)
        collect_s, render_s = [], []
        report: dict[str, object] = {}
        for k in range(args.repeat):
            t0 = time.perf_counter()
            report = rooms_report.collect(db)
            collect_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rooms_render.write(report, Path(tmp) / f"out{k}", "html", "en")
            render_s.append(time.perf_counter() - t0)
        db.dispose()
    totals = report["totals"]
    result = {
        "bench": "rooms_report",
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        **sizes,
        "build_seconds": round(build_s, 2),
        "collect_seconds_best": round(min(collect_s), 3),
        "render_seconds_best": round(min(render_s), 3),
        "total_seconds_best": round(
            min(c + r for c, r in zip(collect_s, render_s, strict=True)), 3
        ),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "report_totals": totals,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
