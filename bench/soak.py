"""Soak test: `rempart serve --workers 2` under mixed load for a bounded time, with a worker
and then the whole server killed mid-write, and the promises checked at the end (issue 18).

Why: a helpline's server runs for months. What must hold whatever happens to its
processes: an import the server acknowledged (201) is never lost, a withdrawal it
acknowledged (200) never comes back (not in the database, not in any worker's index), the
audit chain still verifies, an import cut off mid-way leaves all of its hashes or none,
and memory stays bounded.

What it does, on loopback only (127.0.0.1, a free port), in a fresh folder:
1. A database (SQLite by default, or --db postgresql://...) with a bank shared with a
   platform, a caseworker's organisation, and an inbox of ordinary generated photos
   (rempart.samples.photo_like) to scan, two of them banked.
2. The real server (`python -m rempart serve --workers 2`) in its own process group.
3. Load until --minutes have passed: importers (POST /v1/banks/soak/entries, a new case of
   random PDQ hashes each time, with consent), a withdrawer (POST /v1/cases/N/withdraw of an
   acknowledged case), lookers (POST /v1/lookup/batch of live and withdrawn hashes: a
   withdrawn hash found 3 s after its withdrawal was acknowledged is a failure), web
   sessions (sign in, three pages, and every third session a scan of the inbox started
   from the UI and followed to its end), and an RSS sampler (every process of the server).
4. At a third of the time, one worker is killed (SIGKILL) while an import is in flight
   (uvicorn starts a new one); at two thirds, the whole server is (its process group,
   SIGKILL) and started again on the same port.
5. At the end: every acknowledged import's hashes are in the database and found by a
   lookup, every acknowledged withdrawal's are in neither, every unacknowledged import is
   whole or absent, `rempart audit verify` passes, memory in the last third of the run
   stayed under 1.5 x its peak in the first third; no answer was a 5xx.

Prints a summary and writes bench/out/soak.json; exit status 1 if a check failed.

    .venv/bin/python bench/soak.py                 # 10 minutes
    .venv/bin/python bench/soak.py --minutes 4
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

OUT = Path(__file__).resolve().parent / "out"
CONSENT = {"given_by": "Soak Test", "given_at": "2026-11-01", "purpose": "soak benchmark"}
GRACE_S = 3.0  # a change acknowledged this long ago must be seen by every worker
ORG = "soak-org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jpeg(seed: int, size: tuple[int, int] = (320, 240), quality: int = 88) -> bytes:
    from rempart.samples import photo_like

    buf = io.BytesIO()
    photo_like(seed, size).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def random_pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


# ---------------------------------------------------------------- the world


@dataclass
class World:
    root: Path
    db_url: str
    home: Path
    keys: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "REMPART_DB": self.db_url,
            "REMPART_HOME": str(self.home),
            "REMPART_API_INDEX_POLL": "0.5",
            "REMPART_WEB_COOKIE_SECURE": "0",  # plain http on loopback
            "REMPART_WEB_SCAN_ROOT": str(self.root / "inbox"),
        }


def build_world(root: Path, db_url: str | None) -> World:
    from rempart.api import keys
    from rempart.exchange.bank_import import import_submission
    from rempart.exchange.consent import ConsentRecord
    from rempart.exchange.submission import Submission, SubmissionItem
    from rempart.signals.image_hashes import hash_image_bytes
    from rempart.store import repository
    from rempart.store.bank_index import BankIndex
    from rempart.store.db import Database
    from rempart.store.models import BankShare, CaseOwner

    world = World(root, db_url or f"sqlite:///{root / 'rempart.db'}", root / "home")
    world.home.mkdir(mode=0o700, parents=True, exist_ok=True)  # as Rempart asks of a home
    db = Database(world.db_url)
    with db.session() as s:
        repository.create_bank(s, "soak")
        for name, role, tenant in (
            ("admin", "admin", None),
            ("caseworker", "caseworker", ORG),
            ("platform", "platform", "soak-platform"),
        ):
            key, _ = keys.create_key(s, role, tenant, rate_limit=1e6, label=f"soak {name}")
            world.keys[name] = key
        s.add(
            BankShare(
                bank_id=repository.get_bank(s, "soak").id,
                tenant_id=keys.get_tenant(s, "soak-platform").id,
            )
        )
    # the inbox the web UI scans: eight photos, two of them banked (so the scan matches)
    batch = root / "inbox" / ORG / "batch"
    batch.mkdir(parents=True)
    banked = []
    for seed in range(8):
        data = jpeg(seed + 300)
        (batch / f"photo-{seed}.jpg").write_bytes(data)
        if seed < 2:
            h = hash_image_bytes(data, "x.jpg")
            banked.append(
                SubmissionItem(
                    md5=h.md5,
                    sha256=h.sha256,
                    pdq=h.pdq.hex,
                    pdq_quality=h.pdq.quality,
                    width=h.width,
                    height=h.height,
                )
            )
    import_submission(
        BankIndex(db, world.home),
        "soak",
        Submission(banked),
        case_number="SOAK-SCAN",
        consent=ConsentRecord.parse(CONSENT, "consent"),
    )
    with db.session() as s:
        case = repository.get_case(s, "SOAK-SCAN")
        assert case is not None
        s.add(
            CaseOwner(
                case_id=case.id,
                tenant_id=keys.get_tenant(s, ORG).id,
            )
        )
    db.dispose()
    return world


# ---------------------------------------------------------------- the server


class ServerProcess:
    def __init__(self, world: World, port: int, workers: int) -> None:
        self.world, self.port, self.workers = world, port, workers
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> float:
        """Start it and wait until every worker answers; the seconds that took."""
        t0 = time.monotonic()
        self.starts += 1
        log = self.world.root / f"server-{self.starts}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rempart", "serve", "--port", str(self.port)]
            + ["--workers", str(self.workers)],
            env=self.world.env(),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole
        )
        ready = 0
        while ready < 3 * self.workers:
            try:
                ready += httpx.get(self.url + "/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() - t0 > 300:
                raise SystemExit("the server did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.1)
        return time.monotonic() - t0

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        out = []
        for child in psutil.Process(self.proc.pid).children():
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    out.append(child.pid)
            except psutil.Error:
                pass
        return out

    def rss(self) -> tuple[int, dict[int, int]]:
        """Bytes resident: every process of the server together, and each worker's."""
        if self.proc is None or self.proc.poll() is not None:
            return 0, {}
        try:
            main = psutil.Process(self.proc.pid)
            procs = [main, *main.children(recursive=True)]
        except psutil.Error:
            return 0, {}
        total, workers = 0, {}
        worker_pids = set(self.worker_pids())
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            if p.pid in worker_pids:
                workers[p.pid] = rss
        return total, workers

    def kill_all(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_all()


# ---------------------------------------------------------------- the load


@dataclass
class State:
    """What the server acknowledged, what it was asked, and what went wrong."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    acked: dict[str, tuple[float, list[str]]] = field(default_factory=dict)  # case -> (t, hashes)
    unacked: dict[str, list[str]] = field(default_factory=dict)  # sent, no answer
    refused: dict[str, list[str]] = field(default_factory=dict)  # case -> hashes (4xx)
    withdrawn: dict[str, float] = field(default_factory=dict)  # case -> ack time
    withdraw_tried: set[str] = field(default_factory=set)
    inflight_imports: dict[int, float] = field(default_factory=dict)  # thread -> since
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # failures of the promises (kept short)
    http_5xx: list[str] = field(default_factory=list)
    fault_windows: list[tuple[float, float]] = field(default_factory=list)
    connection_errors: list[tuple[float, str]] = field(default_factory=list)  # (t, what)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def fail(self, message: str) -> None:
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(message)
            self.counts["failures"] = self.counts.get("failures", 0) + 1


def guarded(
    state: State, name: str, body: Callable[[httpx.Client], None], headers: dict[str, str], url: str
) -> None:
    """Run `body` in a loop until the end; connection errors (a killed worker or server)
    are counted, a 5xx is recorded."""
    client = httpx.Client(base_url=url, headers=headers, timeout=60)
    while not state.stop.is_set():
        try:
            body(client)
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status >= 500:
                with state.lock:
                    state.http_5xx.append(f"{name}: {status} {exc.request.url.path}")
            else:
                state.fail(f"{name}: unexpected {status} {exc.request.url.path}")
        except httpx.TransportError as exc:
            with state.lock:
                state.connection_errors.append(
                    (time.monotonic(), f"{name}: {type(exc).__name__} {exc}"[:200])
                )
            client.close()
            client = httpx.Client(base_url=url, headers=headers, timeout=60)
            time.sleep(0.2)
    client.close()


def importer(state: State, n: int, hashes_per_case: int) -> Callable[[httpx.Client], None]:
    rng = random.Random(1000 + n)
    counter = iter(range(10**9))

    def body(c: httpx.Client) -> None:
        case = f"SOAK-{n}-{next(counter)}"
        hashes = [random_pdq(rng) for _ in range(hashes_per_case)]
        body = {
            "case": case,
            "items": [{"pdq": h, "pdq_quality": 100} for h in hashes],
            "consent": CONSENT,
        }
        with state.lock:
            state.unacked[case] = hashes
            state.inflight_imports[n] = time.monotonic()
        try:
            r = c.post("/v1/banks/soak/entries", json=body)
        except httpx.ConnectError:
            with state.lock:  # never sent: nothing to check
                del state.unacked[case]
            raise
        finally:
            with state.lock:
                state.inflight_imports.pop(n, None)
        if r.status_code == 201:
            assert r.json()["added"] == len(hashes), r.text
            with state.lock:
                state.acked[case] = (time.monotonic(), hashes)
                del state.unacked[case]
            state.count("imports")
            state.count("hashes_imported", len(hashes))
        elif r.status_code < 500:
            with state.lock:
                del state.unacked[case]  # refused: nothing stored (checked at the end)
                state.refused[case] = hashes
            r.raise_for_status()
        else:
            r.raise_for_status()  # a failure, its outcome unknown: whole or absent
        time.sleep(0.05)

    return body


def withdrawer(state: State) -> Callable[[httpx.Client], None]:
    rng = random.Random(7)

    def body(c: httpx.Client) -> None:
        time.sleep(0.4)
        with state.lock:
            live = [k for k in state.acked if k not in state.withdraw_tried]
            if len(live) < 5:
                return
            case = rng.choice(live[: len(live) // 2 + 1])  # an older one
            state.withdraw_tried.add(case)
        try:
            r = c.post(f"/v1/cases/{case}/withdraw")
        except httpx.ConnectError:
            with state.lock:  # never sent: the case stays live
                state.withdraw_tried.discard(case)
            raise
        r.raise_for_status()
        with state.lock:
            state.withdrawn[case] = time.monotonic()
        state.count("withdrawals")

    return body


def looker(state: State, n: int) -> Callable[[httpx.Client], None]:
    rng = random.Random(500 + n)

    def body(c: httpx.Client) -> None:
        now = time.monotonic()
        with state.lock:
            live = [
                (k, v[1][0])
                for k, v in state.acked.items()
                if k not in state.withdraw_tried and now - v[0] > GRACE_S
            ]
            gone = [
                (k, state.acked[k][1][rng.randrange(len(state.acked[k][1]))])
                for k, t in state.withdrawn.items()
                if now - t > GRACE_S
            ]
        sample = rng.sample(live, min(20, len(live))) + rng.sample(gone, min(20, len(gone)))
        if not sample:
            time.sleep(0.2)
            return
        r = c.post(
            "/v1/lookup/batch",
            json={"queries": [{"signal_type": "pdq", "signal": h} for _, h in sample]},
        )
        r.raise_for_status()
        for (case, _), result in zip(sample, r.json()["results"], strict=True):
            found = bool(result["matches"])
            if case in state.withdrawn and found:
                state.fail(f"withdrawn case {case}'s hash found by a lookup")
            elif case not in state.withdraw_tried and not found:
                state.fail(f"acknowledged case {case}'s hash not found by a lookup")
        state.count("lookup_requests")
        state.count("lookups", len(sample))
        time.sleep(0.02)

    return body


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    if not m:
        raise AssertionError("no CSRF token in the page")
    return m.group(1)


def web_sessions(state: State, key: str) -> Callable[[httpx.Client], None]:
    sessions = iter(range(10**9))

    def body(c: httpx.Client) -> None:
        c.cookies.clear()
        login = c.get("/ui/login")
        login.raise_for_status()
        r = c.post("/ui/login", data={"csrf": csrf(login.text), "key": key, "next": "/ui/"})
        if r.status_code != 303:
            r.raise_for_status()
            raise AssertionError(f"sign-in answered {r.status_code}")
        for path in ("/ui/", "/ui/review", "/ui/scans"):
            page = c.get(path)
            page.raise_for_status()
            state.count("web_pages")
        state.count("web_sessions")
        if next(sessions) % 3 == 0:
            started = c.post(
                "/ui/scans", data={"csrf": csrf(page.text), "folder": "batch", "bank": "soak"}
            )
            if started.status_code != 303:
                started.raise_for_status()
            job = started.headers["location"].rsplit("/", 1)[-1]
            state.count("scans_started")
            deadline = time.monotonic() + 60
            while not state.stop.is_set():
                if time.monotonic() > deadline:  # e.g. its server was killed under it
                    state.count("scans_unfinished")
                    break
                progress = c.get(f"/ui/scans/{job}/progress")
                progress.raise_for_status()
                info = progress.json()
                if info["state"] == "finished":
                    # matches are new ones: the first scan finds both banked photos
                    if not state.counts.get("scans_finished") and info["matches"] < 2:
                        state.fail(f"UI scan {job} found {info['matches']} of 2 banked photos")
                    state.count("scans_finished")
                    break
                if info["state"] == "failed":
                    state.count("scans_failed")
                    break
                time.sleep(0.5)
        time.sleep(0.5)

    return body


# ---------------------------------------------------------------- faults and memory


def wait_for_inflight_import(state: State, at_least_s: float = 0.02, limit_s: float = 20) -> int:
    """Block until an import has been in flight for `at_least_s` (it is in the handler, not
    in the socket); the number in flight then."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with state.lock:
            now = time.monotonic()
            busy = [t for t in state.inflight_imports.values() if now - t >= at_least_s]
            if busy:
                return len(state.inflight_imports)
        time.sleep(0.002)
    return 0


def kill_one_worker(server: ServerProcess, state: State) -> dict[str, Any]:
    before = server.worker_pids()
    inflight = wait_for_inflight_import(state)
    t0 = time.monotonic()
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    back = None
    while time.monotonic() - t0 < 60:
        pids = server.worker_pids()
        if len(pids) == server.workers and victim not in pids:
            back = time.monotonic() - t0
            break
        time.sleep(0.1)
    # every worker answers again
    ok = 0
    while back is not None and ok < 6 and time.monotonic() - t0 < 120:
        try:
            ok += httpx.get(server.url + "/ready", timeout=5).status_code == 200
        except httpx.HTTPError:
            pass
    end = time.monotonic()
    with state.lock:
        state.fault_windows.append((t0, end + 2))
    if back is None:
        state.fail("a killed worker was not replaced within 60 s")
    return {
        "killed_worker": victim,
        "imports_in_flight": inflight,
        "replaced_after_s": None if back is None else round(back, 2),
    }


def kill_server(server: ServerProcess, state: State) -> dict[str, Any]:
    inflight = wait_for_inflight_import(state)
    t0 = time.monotonic()
    server.kill_all()
    start_s = server.start()
    end = time.monotonic()
    with state.lock:
        state.fault_windows.append((t0, end + 2))
    return {
        "imports_in_flight": inflight,
        "restart_s": round(start_s, 2),
        "down_s": round(end - t0, 2),
    }


def sampler(server: ServerProcess, state: State, t0: float, out: list[dict[str, Any]]) -> None:
    while not state.stop.wait(2.0):
        total, workers = server.rss()
        if total:
            out.append(
                {
                    "t": round(time.monotonic() - t0, 1),
                    "total_mb": round(total / 2**20, 1),
                    "workers_mb": sorted(round(v / 2**20, 1) for v in workers.values()),
                }
            )


# ---------------------------------------------------------------- the end: checks


def final_checks(world: World, server: ServerProcess, state: State) -> dict[str, Any]:
    from sqlalchemy import text

    from rempart.store.db import Database

    time.sleep(GRACE_S)
    db = Database(world.db_url)
    try:
        with db.session() as s:
            stored = {
                str(v)
                for (v,) in s.execute(
                    text("SELECT value FROM item_signals WHERE signal_type = 'pdq'")
                )
            }
            statuses = {
                str(n): str(st) for n, st in s.execute(text("SELECT number, status FROM cases"))
            }
    finally:
        db.dispose()
    live = {k: v[1] for k, v in state.acked.items() if k not in state.withdraw_tried}
    gone = {k: state.acked[k][1] for k in state.withdrawn}
    lost = [k for k, hashes in live.items() if not all(h in stored for h in hashes)]
    back = [k for k, hashes in gone.items() if any(h in stored for h in hashes)]
    not_marked = [k for k in gone if statuses.get(k) != "withdrawn"]
    partial = [
        k
        for k, hashes in state.unacked.items()
        if 0 < sum(h in stored for h in hashes) < len(hashes)
    ]
    refused_stored = [k for k, hashes in state.refused.items() if any(h in stored for h in hashes)]
    # a withdrawal sent but not acknowledged (the server died): all of it or none
    cut = [k for k in state.withdraw_tried if k not in state.withdrawn]
    partial += [
        k for k in cut if 0 < sum(h in stored for h in state.acked[k][1]) < len(state.acked[k][1])
    ]
    for what, cases in (
        ("acknowledged imports lost", lost),
        ("withdrawn cases back in the database", back),
        ("withdrawn cases not marked withdrawn", not_marked),
        ("unacknowledged imports or withdrawals applied in part", partial),
        ("refused imports stored", refused_stored),
    ):
        if cases:
            state.fail(f"{what}: {len(cases)} ({', '.join(sorted(cases)[:5])})")
    # every worker's index: each live hash found, each withdrawn one not
    headers = {"Authorization": f"Bearer {world.keys['platform']}"}
    queries = [(k, h, True) for k, hs in live.items() for h in hs[:3]]
    queries += [(k, h, False) for k, hs in gone.items() for h in hs[:3]]
    wrong = 0
    for start in range(0, len(queries), 500):
        chunk = queries[start : start + 500]
        for _ in range(server.workers * 2):  # fresh connections reach both workers
            c2 = httpx.Client(base_url=server.url, headers=headers, timeout=120)
            r = c2.post(
                "/v1/lookup/batch",
                json={"queries": [{"signal_type": "pdq", "signal": h} for _, h, _ in chunk]},
            )
            c2.close()
            r.raise_for_status()
            for (_, _, want), result in zip(chunk, r.json()["results"], strict=True):
                wrong += bool(result["matches"]) != want
    if wrong:
        state.fail(f"final lookups: {wrong} wrong answers (live not found or withdrawn found)")
    audit = subprocess.run(
        [sys.executable, "-m", "rempart", "audit", "verify"],
        env=world.env(),
        capture_output=True,
        text=True,
    )
    if audit.returncode != 0:
        state.fail(f"rempart audit verify: exit {audit.returncode}: {audit.stderr.strip()}")
    return {
        "live_cases": len(live),
        "withdrawn_cases": len(gone),
        "unacknowledged_imports": len(state.unacked),
        "unacknowledged_withdrawals": len(cut),
        "unacknowledged_stored_whole": sum(
            all(h in stored for h in hs) for hs in state.unacked.values()
        ),
        "final_lookups": len(queries) * server.workers * 2,
        "final_lookups_wrong": wrong,
        "audit_verify_exit": audit.returncode,
        "audit_verify_output": audit.stdout.strip()[-300:],
    }


def memory_summary(samples: list[dict[str, Any]], seconds: float, state: State) -> dict[str, Any]:
    if not samples:
        state.fail("no memory samples")
        return {}
    third = seconds / 3
    first = [s["total_mb"] for s in samples if s["t"] < third] or [samples[0]["total_mb"]]
    last = [s["total_mb"] for s in samples if s["t"] >= 2 * third] or [samples[-1]["total_mb"]]
    worker_peak = max((max(s["workers_mb"], default=0) for s in samples), default=0)
    bounded = max(last) <= 1.5 * max(first)
    if not bounded:
        state.fail(f"memory grew: peak {max(last)} MB in the last third, {max(first)} in the first")
    return {
        "samples": len(samples),
        "peak_total_mb_first_third": max(first),
        "peak_total_mb_last_third": max(last),
        "peak_total_mb": max(s["total_mb"] for s in samples),
        "peak_worker_mb": worker_peak,
        "bounded": bounded,
    }


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="load time (default 10)")
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    ap.add_argument("--importers", type=int, default=2)
    ap.add_argument("--lookers", type=int, default=2)
    ap.add_argument("--hashes-per-case", type=int, default=20)
    ap.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=OUT / "soak.json")
    args = ap.parse_args()
    if args.minutes <= 0 or args.workers < 2:
        ap.error("--minutes must be positive and --workers at least 2 (one is killed)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

    root = args.workdir or Path(tempfile.mkdtemp(prefix="rempart-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    t_setup = time.monotonic()
    world = build_world(root, args.db)
    server = ServerProcess(world, free_port(), args.workers)
    first_start = server.start()
    print(
        f"soak: server on {server.url} ({args.workers} workers) ready in {first_start:.1f} s "
        f"(set-up {time.monotonic() - t_setup:.1f} s); load for {args.minutes:g} min",
        flush=True,
    )
    state = State()
    seconds = args.minutes * 60
    t0 = time.monotonic()
    samples: list[dict[str, Any]] = []
    caseworker = {"Authorization": f"Bearer {world.keys['caseworker']}"}
    platform = {"Authorization": f"Bearer {world.keys['platform']}"}
    jobs: list[tuple[str, Callable[[httpx.Client], None], dict[str, str]]] = [
        (f"importer-{n}", importer(state, n, args.hashes_per_case), caseworker)
        for n in range(args.importers)
    ]
    jobs.append(("withdrawer", withdrawer(state), caseworker))
    jobs += [(f"looker-{n}", looker(state, n), platform) for n in range(args.lookers)]
    jobs.append(("web", web_sessions(state, world.keys["caseworker"]), {}))
    threads = [
        threading.Thread(target=guarded, args=(state, name, body, headers, server.url), daemon=True)
        for name, body, headers in jobs
    ]
    threads.append(threading.Thread(target=sampler, args=(server, state, t0, samples), daemon=True))
    for t in threads:
        t.start()
    faults: dict[str, Any] = {}
    try:
        for name, at, action in (
            ("worker_killed", seconds / 3, kill_one_worker),
            ("server_killed", 2 * seconds / 3, kill_server),
        ):
            while time.monotonic() - t0 < at:
                time.sleep(0.5)
            faults[name] = {"at_s": round(time.monotonic() - t0, 1), **action(server, state)}
            print(f"soak: {name}: {faults[name]}", flush=True)
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            elapsed = time.monotonic() - t0
            if int(elapsed) % 30 == 0:
                print(f"soak: {elapsed:.0f} s {dict(sorted(state.counts.items()))}", flush=True)
                time.sleep(0.5)
    finally:
        state.stop.set()
        for t in threads:
            t.join(timeout=150)
    checks = final_checks(world, server, state)
    memory = memory_summary(samples, seconds, state)
    server.stop()
    outside = [
        f"{t - t0:.1f} s {what}"
        for t, what in state.connection_errors
        if not any(a <= t <= b for a, b in state.fault_windows)
    ]
    if state.http_5xx:
        state.fail(f"{len(state.http_5xx)} answers were 5xx: {state.http_5xx[:5]}")
    if outside:
        state.fail(f"{len(outside)} connection errors outside the fault windows: {outside[:3]}")
    duration = time.monotonic() - t0
    result = {
        "minutes": args.minutes,
        "database": world.db_url.split(":", 1)[0],
        "workers": args.workers,
        "duration_s": round(duration, 1),
        "counts": dict(sorted(state.counts.items())),
        "rates_per_s": {
            k: round(v / seconds, 2)
            for k, v in state.counts.items()
            if k in ("imports", "withdrawals", "lookups", "web_pages")
        },
        "faults": faults,
        "connection_errors_in_fault_windows": len(state.connection_errors) - len(outside),
        "connection_errors_outside": len(outside),
        "http_5xx": len(state.http_5xx),
        "checks": checks,
        "memory": memory,
        "memory_samples": samples,
        "failures": state.errors,
        "ok": not state.errors,
        "load": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "memory_samples"}, indent=2))
    print(f"soak: {'PASSED' if result['ok'] else 'FAILED'} ({args.out})")
    if not args.workdir:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
