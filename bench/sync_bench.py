"""Sync benchmark: a partner pulls a shared bank from a real `rempart serve` over loopback.

1. Instance A: one bank of N photo entries (random PDQ, MD5, SHA-256), imported through the
   ordinary consent-checked import in submissions of 1,000 (so the change feed is written
   as in real use), shared with a partner tenant; a partner key.
2. Starts `rempart serve` on A and waits for /ready.
3. Instance B pulls everything (`rempart.exchange.sync_client.pull`, pages of --limit
   changes), then A adds --delta entries and withdraws --delta others, B pulls the change,
   then pulls again with nothing new. Prints seconds, pages and entries/s of each pull, and
   checks that B holds exactly A's shared entries; writes bench/out/sync_bench.json.

    .venv/bin/python bench/sync_bench.py                      # 20,000 entries
    .venv/bin/python bench/sync_bench.py --entries 2000 --delta 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

OUT = Path(__file__).resolve().parent / "out"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rempart.api import keys  # noqa: E402
from rempart.exchange.bank_import import import_submission  # noqa: E402
from rempart.exchange.consent import ConsentRecord  # noqa: E402
from rempart.exchange.hashlist import withdraw_hashes  # noqa: E402
from rempart.exchange.submission import Submission, SubmissionItem  # noqa: E402
from rempart.exchange.sync_client import PageFetcher, pull  # noqa: E402
from rempart.store import repository  # noqa: E402
from rempart.store.bank_index import BankIndex  # noqa: E402
from rempart.store.db import Database  # noqa: E402
from rempart.store.models import Bank, BankItem, BankShare, ItemSignal  # noqa: E402

CONSENT = ConsentRecord.parse(
    {"given_by": "Bench", "given_at": "2026-12-01", "purpose": "benchmark", "allow_exchange": True},
    "consent",
)


def entry(rng: random.Random) -> SubmissionItem:
    return SubmissionItem(
        md5=rng.randbytes(16).hex(),
        sha256=rng.randbytes(32).hex(),
        pdq=rng.randbytes(32).hex(),
        pdq_quality=100,
        width=640,
        height=480,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha256s(db: Database, bank: str) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select_sha(bank)))


def select_sha(bank: str):  # noqa: ANN201
    from sqlalchemy import select

    return (
        select(ItemSignal.value)
        .join(BankItem, ItemSignal.item_id == BankItem.id)
        .join(Bank, BankItem.bank_id == Bank.id)
        .where(Bank.name == bank, ItemSignal.signal_type == "sha256")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=20_000)
    ap.add_argument("--delta", type=int, default=100)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=OUT / "sync_bench.json")
    args = ap.parse_args()
    rng = random.Random(11)
    root = Path(tempfile.mkdtemp(prefix="rempart-sync-bench-"))  # left for inspection
    a_url, a_home = f"sqlite:///{root / 'a.db'}", root / "a-home"
    b_url, b_home = f"sqlite:///{root / 'b.db'}", root / "b-home"
    a = Database(a_url)
    a_index = BankIndex(a, a_home)
    with a.session() as s:
        repository.create_bank(s, "shared")
        key, _ = keys.create_key(s, "partner", "partner-b", rate_limit=1e6)
        s.add(
            BankShare(
                bank_id=repository.get_bank(s, "shared").id,
                tenant_id=keys.get_tenant(s, "partner-b").id,
            )
        )
    t0 = time.perf_counter()
    for start in range(0, args.entries, 1000):
        items = [entry(rng) for _ in range(min(1000, args.entries - start))]
        import_submission(
            a_index, "shared", Submission(items), case_number=f"C-{start}", consent=CONSENT
        )
    build_s = time.perf_counter() - t0
    port = free_port()
    env = {**os.environ, "REMPART_DB": a_url, "REMPART_HOME": str(a_home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "rempart", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        b = Database(b_url)
        with b.session() as s:
            repository.create_bank(s, "from-a")
        b_index = BankIndex(b, b_home)
        runs = []

        def run(name: str) -> dict[str, object]:
            fetcher = PageFetcher(base, key)
            t = time.perf_counter()
            r = pull(
                b_index,
                fetcher,
                "shared",
                "from-a",
                case_number="partner-a",
                consent=CONSENT,
                limit=args.limit,
            )
            seconds = time.perf_counter() - t
            fetcher.close()
            out = {
                "pull": name,
                "seconds": round(seconds, 2),
                "pages": r.pages,
                "changes": r.changes,
                "received": r.received,
                "added": r.added,
                "withdrawn_received": r.withdrawn_received,
                "deleted": r.withdrawn,
                "entries_per_s": round(r.received / seconds) if seconds else None,
            }
            print(json.dumps(out))
            runs.append(out)
            return out

        run("everything")
        with a.session() as s:
            some = list(s.scalars(select_sha("shared").limit(args.delta)))
        import_submission(
            a_index,
            "shared",
            Submission([entry(rng) for _ in range(args.delta)]),
            case_number="C-new",
            consent=CONSENT,
        )
        for start in range(0, len(some), 1000):
            chunk = some[start : start + 1000]
            with a.session() as s:
                cases = set(
                    s.scalars(
                        select_sha("shared")
                        .with_only_columns(BankItem.case_id)
                        .where(ItemSignal.value.in_(chunk))
                    )
                )
            for case_id in cases:
                with a.session() as s:
                    number = repository.case_number(s, case_id)
                withdraw_hashes(
                    a_index, [("sha256", v) for v in chunk], case_number=number, source="bench"
                )
        run("change")
        run("nothing new")
        same = sha256s(a, "shared") == sha256s(b, "from-a")
        print(f"B holds exactly A's entries: {same}")
    finally:
        server.terminate()
        server.wait(timeout=20)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "entries": args.entries,
        "delta": args.delta,
        "limit": args.limit,
        "build_seconds": round(build_s, 1),
        "runs": runs,
        "identical": same,
        "load_average": os.getloadavg(),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
