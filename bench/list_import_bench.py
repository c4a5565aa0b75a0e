"""Partner list import benchmark: `rempart bank import-list` of a StopNCII list of N hashes.

Writes a StopNCII FetchHashes-shaped list of N random PDQ hashes (pretty-printed, as
partners send them; a few records withdrawn, a few malformed), then runs the real command
in a fresh home (`rempart bank create`, then `bank import-list BANK FILE --partner ...
--consent ...`) as a child process, and reports its wall time and peak memory (the child's
maximum resident set), the hashes imported and that a lookup finds one of them. Issue 19's
target: 1 M hashes in under 60 s and under 500 MB (it took 18.5 min and 2.2 GB when the list
was read whole and inserted row by row). Writes bench/out/list_import_bench.json.

    .venv/bin/python bench/list_import_bench.py                   # 1,000,000 hashes
    .venv/bin/python bench/list_import_bench.py --hashes 20000
    .venv/bin/python bench/list_import_bench.py --db postgresql+psycopg://u@host/emptydb

CPU time is the steadier figure on a shared machine (wall time follows the load average,
which is reported). Measured on the 2-core development machine (load average 8-10, other
work running), SQLite, 1 M hashes (229 MB): 434 s wall, 74.6 s of CPU, peak 496 MB when
the list was first streamed; 69.7 s wall (load average 2.5), 60.2 s of CPU, peak 411 MB
once the change feed, dates and id read-backs went in bulk, SQLite had a 64 MB cache for
the import and the freed memory was given back before the index build (then about one
third JSON reading and checking, two thirds SQLite inserts: three tables, five indexes, one
of them on random hash values). Issue 19's second pass (one transaction for the whole list,
the index of hashes by value built once at its end, multi-row INSERTs, a faster depth
guard), run one after the other at load average 4-5: 91.9 s wall, 59.7 s of CPU, 415 MB
before; 62.2 s wall, 40.2 s of CPU, 381 MB after; finally 56.0 s wall, 32.1 s of CPU,
382 MB (load average 5.8). Table and breakdown: docs/formats.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parents[1]


def write_list(path: Path, n: int, seed: int = 7) -> list[str]:
    """A StopNCII list of n records, written a record at a time; returns a few of the
    hashes (to look up afterwards)."""
    rng = random.Random(seed)
    sample: list[str] = []
    with path.open("w", encoding="utf-8") as fh:
        fh.write(
            f'{{\n  "count": {n},\n  "nextPageToken": null,\n  "hasMoreRecords": '
            'false,\n  "hashRecords": [\n'
        )
        for i in range(n):
            value = rng.randbytes(32).hex()
            status = "Withdrawn" if i % 10_000 == 9_999 else "Active"
            if i % 50_000 == 49_999:
                value = "not-a-hash"  # a malformed record: reported, the rest goes on
            if i < 3:
                sample.append(value)
            record = {
                "lastModtimestamp": 1_700_000_000 + i,
                "signalType": "ImagePDQ",
                "hashValue": value,
                "hashStatus": status,
                "caseNumbers": {f"SN-{i}": status},
                "CSPFeedbacks": [],
            }
            fh.write("    " + json.dumps(record) + (",\n" if i < n - 1 else "\n"))
        fh.write("  ]\n}\n")
    return sample


def rempart(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hashes", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=OUT / "list_import_bench.json")
    ap.add_argument(
        "--db", default=None, help="an empty database's URL (default: a fresh SQLite file)"
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="rempart-list-bench-") as tmp:
        root = Path(tmp)
        home = root / "home"
        env = {
            **os.environ,
            "REMPART_HOME": str(home),
            "REMPART_DB": args.db or str(root / "r.db"),
            "PYTHONPATH": str(ROOT / "src"),
            "COLUMNS": "300",
        }
        consent = root / "partner-consent.json"
        consent.write_text(
            json.dumps(
                {
                    "given_by": "Partner helpline (statement of the consent it holds)",
                    "given_at": "2026-12-01",
                    "purpose": "find and remove copies",
                    "allow_exchange": False,
                }
            )
        )
        listing = root / "their-list.json"
        start = time.perf_counter()
        sample = write_list(listing, args.hashes)
        written = time.perf_counter() - start
        size_mb = listing.stat().st_size / 1e6
        made = rempart(env, "bank", "create", "partner-hashes")
        if made.returncode != 0:
            raise SystemExit(made.stderr)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
        start = time.perf_counter()
        run = rempart(
            env,
            "bank",
            "import-list",
            "partner-hashes",
            str(listing),
            "--partner",
            "stopncii",
            "--consent",
            str(consent),
        )
        seconds = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_kb, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu_before
        if run.returncode not in (0, 3):  # 3: some records skipped (the malformed ones)
            raise SystemExit(f"import failed ({run.returncode}):\n{run.stderr}")
        if peak_kb <= before:
            print(
                "note: the import's peak was below an earlier child's; RSS is an upper bound",
                file=sys.stderr,
            )
        found = rempart(env, "bank", "list")
        lookup = rempart(env, "match", sample[0], "--format", "json")
        summary = [line for line in run.stderr.splitlines() if "Imported" in line]
    result = {
        "hashes": args.hashes,
        "database": "postgresql" if (args.db or "").startswith("postgres") else "sqlite",
        "list_mb": round(size_mb, 1),
        "write_list_s": round(written, 1),
        "import_s": round(seconds, 1),
        "import_cpu_s": round(cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "hashes_per_s": round(args.hashes / seconds),
        "peak_rss_mb": round(peak_kb / 1024),
        "summary": summary[0].strip() if summary else run.stderr[-500:],
        "bank_list": found.stdout.strip()[-300:],
        "lookup_found": '"distance": 0' in lookup.stdout,
    }
    print(
        f"{args.hashes:,} hashes ({size_mb:.0f} MB StopNCII list): imported in "
        f"{seconds:.1f} s ({result['hashes_per_s']:,}/s, {cpu:.1f} s of CPU; load average "
        f"{result['load_average_1min']}), peak {result['peak_rss_mb']} MB"
    )
    print(result["summary"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
