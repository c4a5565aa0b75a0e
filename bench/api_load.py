"""API load benchmark: lookups per second against a real `rempart serve` over loopback.

1. Builds a bank of N PDQ hashes (default 1,000,000) quickly: random 256-bit hashes written
   straight into the database in bulk, plus K "known" ones, then the index (one rebuild).
2. Starts the real server (`rempart serve --workers W`) and waits for /ready.
3. Drives it from separate load processes (--clients, each with --concurrency keep-alive
   connections) with GET /v1/lookup?signal_type=pdq&signal=HEX: 10% near-duplicates of known
   hashes (0-8 bits flipped: each must find its entry), 90% random (each must find nothing).
   Bounded in requests (--requests) and time (--seconds). Optionally (--batch N) a second
   run with POST /v1/lookup/batch of N hashes per request.
4. Prints requests/s, lookups/s, p50/p90/p99/max latency, failed requests (not 200, or an
   error) and wrong answers; writes bench/out/api_load.json.
5. Then (--import-entries N, default 20,000) imports N new entries through the API while 4
   clients keep looking up known hashes: their p50/p99/max latency during the import.

The load processes use a minimal HTTP/1.1 keep-alive client on asyncio (a few microseconds
of CPU per request) so that the figures measure the server, not the load generator; they
still run on the same machine and share its cores with the server (say so when quoting).

Reference: Meta's Hasher-Matcher-Actioner (HMA) documents ~450-500 lookup requests/s with
10 pods in production, and lock-ups under load.

    .venv/bin/python bench/api_load.py                          # 1M hashes, 2 workers
    .venv/bin/python bench/api_load.py --hashes 20000 --requests 2000 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

OUT = Path(__file__).resolve().parent / "out"
SERVER_CPUS: list[int] = []  # --server-cpus: the server's cores (empty: any)
CLIENT_CPUS: list[int] = []  # --client-cpus: the load processes' cores (empty: any)
PACE_TICK_S = 0.001  # open loop: requests released at most this late (see _load's pace)
HMA_RPS = "~450-500 requests/s with 10 pods (Meta's HMA, production figure from its docs)"


# ---------------------------------------------------------------- the bank, in bulk


def build_bank(
    root: Path, n: int, known: int, case_size: int = 100, seed: int = 7
) -> tuple[str, Path, str, str, list[str]]:
    """A database with one bank of n PDQ hashes in cases of `case_size` entries (the first
    `known` hashes are returned), shared with a platform; its key and an admin key (both
    without rate limit) are returned."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from rempart.api import keys
    from rempart.exchange.consent import ConsentRecord
    from rempart.store import repository
    from rempart.store.bank_index import BankIndex
    from rempart.store.db import Database
    from rempart.store.models import BankShare, Submission

    url, home = f"sqlite:///{root / 'rempart.db'}", root / "home"
    db = Database(url)
    consent = ConsentRecord.parse(
        {"given_by": "Load Test", "given_at": "2026-11-01", "purpose": "benchmark"}, "consent"
    )
    with db.session() as s:
        bank = repository.create_bank(s, "load")
        case = repository.get_or_create_case(s, "LOAD-1")
        consent_row = repository.record_consent(s, case.id, consent)
        sub = Submission(
            bank_id=bank.id, case_id=case.id, consent_id=consent_row.id, source_name="bench"
        )
        s.add(sub)
        s.flush()
        bank_id, case_id, sub_id = bank.id, case.id, sub.id
        key, _ = keys.create_key(s, "platform", "bench-platform", rate_limit=1e6)
        admin_key, _ = keys.create_key(s, "admin", None, rate_limit=1e6)
        tenant = keys.get_tenant(s, "bench-platform")
        s.add(BankShare(bank_id=bank_id, tenant_id=tenant.id))
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    t0 = time.perf_counter()
    hexes: list[str] = []
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            block = rng.integers(0, 256, (m, 32), dtype=np.uint8)
            hx = [row.tobytes().hex() for row in block]
            if start == 0:
                hexes = hx[:known]
            ids = range(start + 1, start + m + 1)
            first_case = (start // case_size) + 2  # case 1 is LOAD-1, made above
            cur.executemany(
                "INSERT OR IGNORE INTO cases (id, number, status, created_at, updated_at) "
                "VALUES (?, ?, 'open', ?, ?)",
                [
                    (c, f"LOAD-{c}", now, now)
                    for c in range(first_case, first_case + (m + case_size - 1) // case_size)
                ],
            )
            cur.executemany(
                "INSERT INTO bank_items (id, bank_id, case_id, submission_id, media_type, "
                "created_at) VALUES (?, ?, ?, ?, 'image', ?)",
                [
                    (
                        i,
                        bank_id,
                        case_id if i <= case_size else (i - 1) // case_size + 1,
                        sub_id,
                        now,
                    )
                    for i in ids
                ],
            )
            cur.executemany(
                "INSERT INTO item_signals (id, item_id, signal_type, value, quality, extra) "
                "VALUES (?, ?, 'pdq', ?, 100, '{}')",
                [(i, i, h) for i, h in zip(ids, hx, strict=True)],
            )
        raw.commit()
    finally:
        raw.close()
    insert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = BankIndex(db, home).rebuild()
    index_s = time.perf_counter() - t0
    print(
        f"bank: {n:,} hashes inserted in {insert_s:.1f} s, index built in {index_s:.1f} s "
        f"({len(index):,} indexed)",
        flush=True,
    )
    db.dispose()
    return url, home, key, admin_key, hexes


def live_change(port: int, key: str, admin_key: str, polls: int = 10) -> dict[str, float]:
    """Add a hash through the API while serving, then withdraw it: seconds until every
    worker answers (`polls` answers in a row on fresh connections) with it, then without."""
    base = f"http://127.0.0.1:{port}"
    value = f"{random.Random(5).getrandbits(256):064x}"

    def seen() -> bool:
        r = httpx.get(
            f"{base}/v1/lookup",
            params={"signal_type": "pdq", "signal": value},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        return bool(r.json()["matches"])

    def until(want: bool) -> float:
        t0, row = time.perf_counter(), 0
        while row < polls:
            row = row + 1 if seen() == want else 0
            if time.perf_counter() - t0 > 120:
                raise SystemExit("a change was not seen within 120 s")
        return time.perf_counter() - t0

    admin = {"Authorization": f"Bearer {admin_key}"}
    t0 = time.perf_counter()
    r = httpx.post(
        f"{base}/v1/banks/load/entries",
        headers=admin,
        timeout=120,
        json={"case": "LOAD-1", "items": [{"pdq": value, "pdq_quality": 100}]},
    )
    r.raise_for_status()
    add_s = time.perf_counter() - t0
    added = until(True)
    (entry,) = r.json()["bank_entries"]
    t0 = time.perf_counter()
    httpx.delete(
        f"{base}/v1/banks/load/entries/{entry}", headers=admin, timeout=120
    ).raise_for_status()
    withdraw_s = time.perf_counter() - t0
    gone = until(False)
    return {
        "add_request_s": round(add_s, 3),
        "add_seen_everywhere_s": round(add_s + added, 3),
        "withdraw_request_s": round(withdraw_s, 3),
        "withdraw_gone_everywhere_s": round(withdraw_s + gone, 3),
    }


def lookups_during_import(
    port: int, key: str, admin_key: str, known: list[str], entries: int, threads: int = 4
) -> dict[str, object]:
    """Import `entries` new hashes through the API (one POST .../entries, as a caseworker's
    tool would) while `threads` clients keep looking up known hashes one at a time: the
    lookups' latency while the import runs (issue 19, M4: lookups stalled 19-34 s after a
    20,000-entry import when the import held the index's lock)."""
    import threading

    base = f"http://127.0.0.1:{port}"
    rng = random.Random(11)
    items = [
        {
            "pdq": f"{rng.getrandbits(256):064x}",
            "pdq_quality": 100,
            "md5": f"{rng.getrandbits(128):032x}",
        }
        for _ in range(entries)
    ]
    done = threading.Event()
    outcome: dict[str, object] = {}
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def importer() -> None:
        t0 = time.perf_counter()
        try:
            r = httpx.post(
                f"{base}/v1/banks/load/entries",
                timeout=900,
                headers={"Authorization": f"Bearer {admin_key}"},
                json={"case": "LOAD-1", "items": items},
            )
            outcome["status"] = r.status_code
            outcome["added"] = r.json().get("added") if r.status_code == 201 else r.text[:200]
        except httpx.HTTPError as exc:
            outcome["status"] = f"{type(exc).__name__}"
        outcome["import_s"] = round(time.perf_counter() - t0, 2)
        done.set()

    def looker(n: int) -> None:
        queries = [known[(n * 7919 + i) % len(known)] for i in range(100_000)]
        with httpx.Client(
            base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as c:
            for q in queries:
                if done.is_set():
                    return
                t0 = time.perf_counter()
                try:
                    r = c.get("/v1/lookup", params={"signal_type": "pdq", "signal": q})
                    ok = r.status_code == 200 and bool(r.json()["matches"])
                except httpx.HTTPError as exc:
                    ok, r = False, None
                    errors.append(type(exc).__name__)
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    if not ok and r is not None:
                        errors.append(f"{r.status_code}")

    workers = [threading.Thread(target=looker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    time.sleep(0.5)  # lookups running before the import starts
    imp = threading.Thread(target=importer)
    imp.start()
    imp.join()
    for w in workers:
        w.join()
    lat = np.array(latencies) * 1000
    return {
        "mode": f"lookups during an import of {entries:,} entries",
        **outcome,
        "lookups": len(lat),
        "clients": threads,
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
        "max_ms": round(float(lat.max()), 2) if len(lat) else None,
        "failed": len(errors),
        "failure_examples": errors[:5],
    }


def lookups_during_list_import(
    port: int,
    key: str,
    admin_key: str,
    known: list[str],
    server_env: dict[str, str],
    root: Path,
    entries: int,
    rate: float,
    clients: int,
    server_pid: int,
) -> dict[str, object]:
    """`rempart bank import-list` of a StopNCII list of `entries` hashes (bench/
    list_import_bench.py writes it) run as its own process against the server's database,
    while single lookups go on at `rate` requests/s (open loop), until 10 s after the import
    ended (the server reloads its index after the import's commit): their latency, and how
    long after the import's end a hash of the list was matched through the API."""
    import threading

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from list_import_bench import write_list

    listing = root / "partner-list.json"
    sample = write_list(listing, entries)
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
    env = {**os.environ, **server_env, "COLUMNS": "300"}
    cli = [sys.executable, "-m", "rempart", "bank"]
    subprocess.run([*cli, "create", "partner"], env=env, check=True, capture_output=True)
    stop = root / "stop-lookups"
    outcome: dict[str, object] = {}

    def importer() -> None:
        time.sleep(1.0)  # lookups running before the import starts
        t0 = time.perf_counter()
        run = subprocess.run(
            [*cli, "import-list", "partner", str(listing), "--partner", "stopncii"]
            + ["--consent", str(consent)],
            env=env,
            capture_output=True,
            text=True,
        )
        ended = time.perf_counter()
        outcome["import_s"] = round(ended - t0, 1)
        outcome["import_exit"] = run.returncode
        if run.returncode not in (0, 3):
            outcome["import_error"] = run.stderr[-500:]
        while time.perf_counter() - ended < 120:  # until the server matches the list
            r = httpx.get(
                f"http://127.0.0.1:{port}/v1/lookup",
                params={"signal_type": "pdq", "signal": sample[0]},
                headers={"Authorization": f"Bearer {admin_key}"},
                timeout=60,
            )
            if r.status_code == 200 and r.json()["matches"]:
                outcome["matched_after_import_s"] = round(time.perf_counter() - ended, 2)
                break
            time.sleep(0.1)
        time.sleep(max(0.0, 10.0 - (time.perf_counter() - ended)))
        stop.touch()

    thread = threading.Thread(target=importer)
    thread.start()
    try:
        result = run_load(
            port, key, known, 0, 3600, clients, 32, 0, 4000, server_pid, rate, str(stop)
        )
    finally:
        stop.touch()
        thread.join()
    result["mode"] = (
        f"single lookups at {rate:,.0f}/s offered while `bank import-list` adds "
        f"{entries:,} hashes (another process, same database)"
    )
    result.update(outcome)
    return result


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    url: str, home: Path, port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REMPART_DB": url, "REMPART_HOME": str(home)}
    cpus = SERVER_CPUS
    proc = subprocess.Popen(
        [sys.executable, "-m", "rempart", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        # the server and its workers on these cores only (--server-cpus)
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    deadline = time.monotonic() + 300
    ready_count = 0
    while ready_count < 3 * workers:  # several answers, so every worker had time to load
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
            ready_count += r.status_code == 200
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the server did not become ready:\n" + log.read_text()[-3000:])
        time.sleep(0.2)
    return proc


# ---------------------------------------------------------------- the load


def make_queries(known: list[str], count: int, seed: int) -> list[tuple[str, str | None]]:
    """(PDQ hex, expected entry id or None): 10% near-duplicates of known, 90% random."""
    rng = random.Random(seed)
    out: list[tuple[str, str | None]] = []
    for _ in range(count):
        if known and rng.random() < 0.1:
            i = rng.randrange(len(known))
            value = int(known[i], 16)
            for bit in rng.sample(range(256), rng.randint(0, 8)):
                value ^= 1 << bit
            out.append((f"{value:064x}", str(i + 1)))
        else:
            out.append((f"{rng.getrandbits(256):064x}", None))
    return out


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, bytes]:
    writer.write(head + body)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def _load(
    port: int,
    key: str,
    queries: list[tuple[str, str | None]],
    concurrency: int,
    deadline: float,
    batch: int,
    rate: float = 0.0,
    stop_file: str | None = None,
) -> dict[str, object]:
    """Closed loop (`rate` 0): each connection sends its next request when the last is
    answered. Open loop (`rate` > 0, requests/s from this process): requests are due at a
    fixed pace whatever the answers, and a request's latency counts from when it was due,
    so the time it waited for a free connection is in it (no coordinated omission). Either
    stops at `deadline`, or as soon as `stop_file` exists."""
    lat: list[float] = []
    failures: list[str] = []
    wrong = 0
    lookups = 0
    nxt = 0
    unsent = 0  # open loop: requests due that no connection was free to send by the end
    step = max(1, batch)
    chunks = (len(queries) + step - 1) // step
    due: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
    checked = [0.0, False]  # when the stop file was last looked for, and whether it was there

    def over() -> bool:
        now = time.monotonic()
        if stop_file is not None and now - checked[0] > 0.1:
            checked[:] = [now, os.path.exists(stop_file)]
        return now >= deadline or bool(checked[1])

    async def pace() -> None:
        # Requests are released in ticks of at least PACE_TICK_S: one wake-up per tick,
        # not per request (at 2,500/s a wake-up per request cost the load process more
        # CPU than the server's answer). A request is never released before it is due,
        # and its latency counts from when it was due, so a tick adds at most PACE_TICK_S.
        start = time.perf_counter()
        for i in range(chunks):
            at = start + i / rate
            wait = at - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(max(wait, PACE_TICK_S))
            if over():
                break
            due.put_nowait((at, i))
        for _ in range(concurrency):
            due.put_nowait(None)

    async def take() -> tuple[float, int] | None:
        nonlocal nxt, unsent
        if rate > 0:
            item = await due.get()
            if item is not None and over():  # due but not sent by the end: counted, dropped
                unsent += 1 + sum(1 for x in iter_nowait(due) if x is not None)
                for _ in range(concurrency):
                    due.put_nowait(None)
                return None
            return item
        if nxt >= chunks or over():
            return None
        nxt += 1
        return time.perf_counter(), nxt - 1

    async def worker() -> None:
        nonlocal wrong, lookups
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await take()) is not None:
                t0, i = item
                chunk = queries[i * step : (i + 1) * step]
                if batch:
                    body = json.dumps(
                        {"queries": [{"signal_type": "pdq", "signal": h} for h, _ in chunk]}
                    ).encode()
                    head = (
                        f"POST /v1/lookup/batch HTTP/1.1\r\nHost: bench\r\n"
                        f"Authorization: Bearer {key}\r\nContent-Type: application/json"
                        f"\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode()
                else:
                    body = b""
                    head = (
                        f"GET /v1/lookup?signal_type=pdq&signal={chunk[0][0]} HTTP/1.1\r\n"
                        f"Host: bench\r\nAuthorization: Bearer {key}\r\n\r\n"
                    ).encode()
                try:
                    status, data = await _request(reader, writer, head, body)
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                lat.append(time.perf_counter() - t0)
                if status != 200:
                    failures.append(f"HTTP {status}: {data[:200]!r}")
                    continue
                parsed = json.loads(data)
                results = parsed["results"] if batch else [parsed]
                for (_, expected), res in zip(chunk, results, strict=True):
                    found = {str(m["bank_entry"]) for m in res["matches"]}
                    wrong += (expected not in found) if expected else bool(found)
                lookups += len(chunk)
        finally:
            writer.close()

    t0 = time.perf_counter()
    tasks = [worker() for _ in range(concurrency)]
    if rate > 0:
        tasks.append(pace())
    await asyncio.gather(*tasks)
    return {
        "lat": lat,
        "failures": failures,
        "wrong": wrong,
        "lookups": lookups,
        "unsent": unsent,
        "seconds": time.perf_counter() - t0,
    }


def iter_nowait(q: asyncio.Queue[Any]) -> list[Any]:
    """Empty a queue without waiting: its items."""
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def client_process(
    args: tuple[int, str, int, int, float, int, list[str], int, float, str | None, list[int]],
) -> dict[str, Any]:
    port, key, count, concurrency, seconds, batch, known, seed, rate, stop_file, cpus = args
    if cpus:
        os.sched_setaffinity(0, cpus)
    queries = make_queries(known, count, seed)
    deadline = time.monotonic() + seconds
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    cpu0 = time.process_time()  # the load's own CPU, without making the queries
    out = asyncio.run(_load(port, key, queries, concurrency, deadline, batch, rate, stop_file))
    out["cpu_s"] = time.process_time() - cpu0
    return out


# ---------------------------------------------------------------- CPU time per process

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_tree(root: int) -> list[int]:
    """`root` and every process below it (uvicorn's supervisor and its workers), read
    from /proc (Linux); [] elsewhere."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int(cpu_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out if Path(f"/proc/{root}").exists() else []


def cpu_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: [state, ppid, ...]."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def user_sys(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds used so far by these processes together."""
    user = system = 0.0
    for pid in pids:
        try:
            f = cpu_fields(pid)
        except (OSError, ValueError, IndexError):
            continue
        user += int(f[11]) / TICK
        system += int(f[12]) / TICK
    return user, system


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds used so far by each process (utime + stime)."""
    out = {}
    for pid in pids:
        try:
            f = cpu_fields(pid)
            out[pid] = (int(f[11]) + int(f[12])) / TICK
        except (OSError, ValueError, IndexError):
            continue
    return out


def run_load(
    port: int,
    key: str,
    known: list[str],
    requests: int,
    seconds: float,
    clients: int,
    concurrency: int,
    batch: int,
    seed: int,
    server_pid: int | None = None,
    rate: float = 0.0,
    stop_file: str | None = None,
) -> dict[str, object]:
    """One run: closed loop, or open loop at `rate` requests/s offered in all (see _load)."""
    per = max(1, requests // clients) * max(1, batch)
    if rate > 0:  # enough queries for the whole run at that pace
        per = max(per, int(rate * seconds / clients + 1) * max(1, batch))
    jobs = [
        (
            port,
            key,
            per,
            concurrency,
            seconds,
            batch,
            known,
            seed + i,
            rate / clients,
            stop_file,
            CLIENT_CPUS,
        )
        for i in range(clients)
    ]
    pids = process_tree(server_pid) if server_pid else []
    load_before = os.getloadavg()[0]
    split_before = user_sys(pids)
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(clients) as pool:
        cpu_before = cpu_seconds(pids)
        parts = pool.map(client_process, jobs)
        cpu_after = cpu_seconds(pids)
    wall = time.perf_counter() - t0
    split_after = user_sys(pids)
    lat = np.array([x for p in parts for x in p["lat"]]) * 1000
    seconds_run = max(p["seconds"] for p in parts)
    failures = [f for p in parts for f in p["failures"]]
    done = len(lat)
    out = {
        "mode": (f"batch of {batch}" if batch else "single lookups")
        + (f", open loop at {rate:,.0f} requests/s offered" if rate > 0 else ""),
        "offered_per_s": rate or None,
        "requests": done,
        "lookups": sum(p["lookups"] for p in parts),
        "seconds": round(seconds_run, 2),
        "requests_per_s": round(done / seconds_run, 1),
        "lookups_per_s": round(sum(p["lookups"] for p in parts) / seconds_run, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if done else None,
        "p90_ms": round(float(np.percentile(lat, 90)), 2) if done else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if done else None,
        "max_ms": round(float(lat.max()), 2) if done else None,
        "failed": len(failures),
        "failure_examples": failures[:5],
        "wrong_answers": sum(p["wrong"] for p in parts),
        "unsent": sum(p.get("unsent", 0) for p in parts),
        "clients": clients,
        "connections": clients * concurrency,
        "wall_s": round(wall, 2),
        "loadavg_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "server_cpus": SERVER_CPUS or None,
        "client_cpus": CLIENT_CPUS or None,
        "server_user_sys_s": [
            round(split_after[0] - split_before[0], 3),
            round(split_after[1] - split_before[1], 3),
        ],
    }
    # CPU seconds per process over the run: the server's (supervisor and workers) and the
    # load generator's own; on one machine they share the cores, so the server's CPU ms per
    # lookup is what tells its capacity where the load runs elsewhere.
    server_cpu = {
        str(pid): round(cpu_after[pid] - cpu_before[pid], 3)
        for pid in cpu_after
        if pid in cpu_before
    }
    client_cpu = [round(float(p.get("cpu_s", 0.0)), 3) for p in parts]
    server_total = sum(server_cpu.values())
    client_total = sum(client_cpu)
    lookups = sum(p["lookups"] for p in parts)
    out.update(
        {
            "server_cpu_s": server_cpu,
            "server_cpu_total_s": round(server_total, 3),
            "client_cpu_s": client_cpu,
            "client_cpu_total_s": round(client_total, 3),
            "server_cpu_ms_per_request": round(1000 * server_total / done, 4) if done else None,
            "client_cpu_ms_per_lookup": round(1000 * client_total / lookups, 4)
            if lookups
            else None,
            "server_cpu_ms_per_lookup": round(1000 * server_total / lookups, 4)
            if lookups
            else None,
            "client_cpu_share": round(client_total / (client_total + server_total), 3)
            if client_total + server_total
            else None,
            "server_lookups_per_core_s": round(lookups / server_total, 1) if server_total else None,
        }
    )
    return out


def show(r: dict[str, object]) -> None:
    print(
        f"\n{r['mode']}: {r['requests']:,} requests ({r['lookups']:,} lookups) in "
        f"{r['seconds']} s over {r['connections']} keep-alive connections"
    )
    print(f"  requests/s {r['requests_per_s']:>10,}    lookups/s {r['lookups_per_s']:>10,}")
    print(
        f"  latency ms  p50 {r['p50_ms']}  p90 {r['p90_ms']}  p99 {r['p99_ms']}  max {r['max_ms']}"
    )
    print(
        f"  failed requests {r['failed']}    wrong answers {r['wrong_answers']}"
        + (f"    due but not sent by the end (overload) {r['unsent']:,}" if r.get("unsent") else "")
        + f"    load average {r.get('loadavg_before_after')}"
    )
    for f in r["failure_examples"]:  # type: ignore[attr-defined]
        print(f"    e.g. {f}")
    if "import_s" in r:
        print(
            f"  the import took {r['import_s']} s (exit {r.get('import_exit')}); its hashes "
            f"were matched {r.get('matched_after_import_s', 'NOT')} s after it ended"
        )
    if r.get("server_cpu_s"):
        per = ", ".join(f"pid {k} {v} s" for k, v in r["server_cpu_s"].items())  # type: ignore[attr-defined]
        print(
            f"  CPU s: server {r['server_cpu_total_s']} ({per}); load generator "
            f"{r['client_cpu_total_s']} ({', '.join(str(c) for c in r['client_cpu_s'])})"  # type: ignore[attr-defined]
        )
        print(
            f"  server CPU ms per lookup {r['server_cpu_ms_per_lookup']} "
            f"(per request {r['server_cpu_ms_per_request']}): "
            f"{r['server_lookups_per_core_s']:,} lookups/s per core of server CPU; "
            f"load generator's share of the CPU used {r['client_cpu_share']} "
            f"({r['client_cpu_ms_per_lookup']} ms per lookup); server user/system s "
            f"{r.get('server_user_sys_s')}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hashes", type=int, default=1_000_000)
    ap.add_argument("--known", type=int, default=1000)
    ap.add_argument("--case-size", type=int, default=100, help="bank entries per case")
    ap.add_argument("--requests", type=int, default=60_000, help="single lookups to send")
    ap.add_argument("--seconds", type=float, default=60.0, help="at most this long per run")
    ap.add_argument("--workers", type=int, default=2, help="server processes")
    ap.add_argument("--clients", type=int, default=2, help="load processes")
    ap.add_argument("--concurrency", type=int, default=16, help="connections per client")
    ap.add_argument(
        "--batch",
        type=int,
        default=100,
        help="also a run of batch lookups of this many hashes (0: none)",
    )
    ap.add_argument("--batch-requests", type=int, default=2000)
    ap.add_argument(
        "--rate",
        type=float,
        nargs="*",
        default=[],
        help="also open-loop runs of single lookups at these offered rates (requests/s in "
        "all, for --seconds each): latency below saturation, counted from when each "
        "request was due",
    )
    ap.add_argument(
        "--import-entries",
        type=int,
        default=20_000,
        help="also lookups during an import of this many entries (0: none)",
    )
    ap.add_argument(
        "--import-list",
        type=int,
        default=0,
        help="also lookups at --import-rate while `rempart bank import-list` of a list of "
        "this many hashes runs in another process (0: none)",
    )
    ap.add_argument("--import-rate", type=float, default=1000.0)
    ap.add_argument(
        "--server-cpus",
        default="",
        help="cores for the server and its workers, e.g. 0,1 (with --client-cpus 2,3 on a "
        "4-core machine: the load runs elsewhere, the server has exactly 2 cores)",
    )
    ap.add_argument("--client-cpus", default="", help="cores for the load processes")
    ap.add_argument("--json", type=Path, default=OUT / "api_load.json")
    args = ap.parse_args()
    SERVER_CPUS[:] = [int(c) for c in args.server_cpus.split(",") if c.strip()]
    CLIENT_CPUS[:] = [int(c) for c in args.client_cpus.split(",") if c.strip()]
    cores = len(SERVER_CPUS) or len(os.sched_getaffinity(0))
    print(
        f"API load benchmark: {args.hashes:,} hashes, {args.workers} server worker(s), "
        f"{args.clients} load process(es) on the same machine "
        + (
            f"(server on cores {SERVER_CPUS}, load on {CLIENT_CPUS or 'any'})"
            if SERVER_CPUS
            else f"({cores} cores shared)"
        )
        + f"; load average {os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory(prefix="rempart-api-load-") as tmp:
        root = Path(tmp)
        url, home, key, admin_key, known = build_bank(root, args.hashes, args.known, args.case_size)
        port = free_port()
        log = root / "server.log"
        proc = start_server(url, home, port, args.workers, log)
        try:
            run_load(port, key, known, 200, 10, 1, 4, 0, 99)  # warm-up
            results = [
                run_load(
                    port,
                    key,
                    known,
                    args.requests,
                    args.seconds,
                    args.clients,
                    args.concurrency,
                    0,
                    1,
                    proc.pid,
                )
            ]
            for rate in args.rate:
                results.append(
                    run_load(
                        port,
                        key,
                        known,
                        0,
                        args.seconds,
                        args.clients,
                        max(args.concurrency, 32),
                        0,
                        2000 + int(rate),
                        proc.pid,
                        rate,
                    )
                )
            if args.batch:
                results.append(
                    run_load(
                        port,
                        key,
                        known,
                        args.batch_requests,
                        args.seconds,
                        args.clients,
                        max(1, args.concurrency // 4),
                        args.batch,
                        1000,
                        proc.pid,
                    )
                )
            if args.import_list:
                results.append(
                    lookups_during_list_import(
                        port,
                        key,
                        admin_key,
                        known,
                        {"REMPART_DB": url, "REMPART_HOME": str(home)},
                        root,
                        args.import_list,
                        args.import_rate,
                        args.clients,
                        proc.pid,
                    )
                )
            change = live_change(port, key, admin_key)
            during = (
                lookups_during_import(port, key, admin_key, known, args.import_entries)
                if args.import_entries
                else None
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    for r in results:
        show(r)
    print(
        f"\nwhile serving {args.hashes:,} hashes: a hash added through the API answered in "
        f"{change['add_request_s']} s, matched by every worker after "
        f"{change['add_seen_everywhere_s']} s; withdrawn in {change['withdraw_request_s']} s, "
        f"gone from every worker after {change['withdraw_gone_everywhere_s']} s"
    )
    if during is not None:
        print(
            f"\n{during['mode']} through the API (answered {during.get('status')} in "
            f"{during.get('import_s')} s): {during['lookups']:,} lookups by "
            f"{during['clients']} clients meanwhile, latency ms p50 {during['p50_ms']} "
            f"p99 {during['p99_ms']} max {during['max_ms']}, failed {during['failed']}"
        )
    print(f"\nreference: {HMA_RPS}")
    target = results[0]
    ok = target["failed"] == 0 and target["wrong_answers"] == 0
    print(
        f"no request failed: {'yes' if ok else 'NO'}; issue 22's target >= 5,000 lookups/s and "
        f"p99 < 20 ms on 2 cores: single {target['lookups_per_s']:,}/s p99 {target['p99_ms']} ms"
        + "".join(
            f"; batch {r['lookups_per_s']:,} lookups/s"
            for r in results[1:]
            if str(r["mode"]).startswith("batch")
        )
    )
    per_core = target.get("server_lookups_per_core_s")
    if isinstance(per_core, float):
        print(
            f"server side: {target['server_cpu_ms_per_lookup']} ms of CPU per single lookup, "
            f"so {cores} cores given to the server alone (the load sent from elsewhere) would "
            f"serve about {cores * per_core:,.0f} single "
            "lookups/s (issue 22's target: 5,000/s on 2 cores)"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "hashes": args.hashes,
                "workers": args.workers,
                "cores": cores,
                "results": results,
                "live_change": change,
                "during_import": during,
            },
            indent=2,
        )
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
