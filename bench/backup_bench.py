"""How fast `rempart backup`, `backup verify` and `restore` go, and that a large database is
streamed rather than held in memory: a Rempart SQLite database padded with SIZE_MB of
random bytes (a filler table), backed up, verified and restored in one process, with the
peak resident memory before and after.

    .venv/bin/python bench/backup_bench.py [SIZE_MB]   (default 200; JSON in bench/out/)
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from rempart.config import Settings
from rempart.ops import backup as ops_backup
from rempart.store.db import Database

PASSPHRASE = "a long and private passphrase"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(size_mb: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="rempart-backup-bench-") as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir(mode=0o700)
        url = f"sqlite:///{home / 'rempart.db'}"
        Database(url).dispose()
        with sqlite3.connect(home / "rempart.db") as c:
            c.execute("CREATE TABLE filler (b BLOB)")
            for _ in range(size_mb):
                c.execute("INSERT INTO filler VALUES (?)", (os.urandom(1 << 20),))
        db_bytes = (home / "rempart.db").stat().st_size
        before = peak_mb()
        t0 = time.perf_counter()
        ops_backup.backup(Settings(home, url), root / "b.bak", PASSPHRASE)
        t1 = time.perf_counter()
        ops_backup.verify(root / "b.bak", PASSPHRASE)
        t2 = time.perf_counter()
        home2 = root / "home2"
        ops_backup.restore(
            Settings(home2, f"sqlite:///{home2 / 'rempart.db'}"), root / "b.bak", PASSPHRASE
        )
        t3 = time.perf_counter()
        result = {
            "database_mb": round(db_bytes / 1e6, 1),
            "backup_s": round(t1 - t0, 2),
            "verify_s": round(t2 - t1, 2),
            "restore_s": round(t3 - t2, 2),
            "backup_mb_per_s": round(db_bytes / 1e6 / (t1 - t0), 1),
            "peak_rss_before_mb": round(before, 1),
            "peak_rss_after_mb": round(peak_mb(), 1),
            "load_average": round(os.getloadavg()[0], 2),
        }
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "backup_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200), indent=2))
