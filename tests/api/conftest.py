"""A real Rempart API server (`rempart serve`) on a free loopback port, over a database with
two organisations, two platforms, their keys, banks and cases; and helpers."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from rempart.api import keys
from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.samples import photo_like
from rempart.signals.image_hashes import hash_image_bytes
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import BankShare, CaseOwner
from tests.conftest import migrated_sqlite_url

CONSENT = {
    "given_by": "Test Person",
    "given_at": "2026-11-01",
    "purpose": "find and remove copies of my images",
}


def jpeg(seed: int, size: tuple[int, int] = (320, 240), quality: int = 90) -> bytes:
    buf = io.BytesIO()
    photo_like(seed, size).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def item(data: bytes) -> SubmissionItem:
    h = hash_image_bytes(data, "x.jpg")
    return SubmissionItem(
        md5=h.md5,
        sha256=h.sha256,
        pdq=h.pdq.hex,
        pdq_quality=h.pdq.quality,
        width=h.width,
        height=h.height,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    root: Path
    db_url: str
    home: Path
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)
    images: dict[int, bytes] = field(default_factory=dict)  # seed -> banked JPEG
    secrets: dict[str, str] = field(default_factory=dict)  # case -> victim secret

    def env(self) -> dict[str, str]:
        return {**os.environ, "REMPART_DB": self.db_url, "REMPART_HOME": str(self.home)}


def build_world(root: Path, db_url: str | None = None) -> World:
    """Org A (caseworker ca) has CASE-A with seeds 1-3 in bank 'ncii', shared with platform
    plat-a; org B has CASE-B with seed 4 in bank 'other', shared with plat-b."""
    from rempart.cases import workflow

    world = World(root, db_url or migrated_sqlite_url(root / "rempart.db"), root / "home")
    db = Database(world.db_url)
    bank_index = BankIndex(db, world.home)
    consent = ConsentRecord.parse(CONSENT, "consent")
    with db.session() as s:
        repository.create_bank(s, "ncii")
        repository.create_bank(s, "other")
        for name, role, tenant, rate in (
            ("admin", "admin", None, None),
            ("ca", "caseworker", "org-a", None),
            ("cb", "caseworker", "org-b", None),
            ("pa", "platform", "plat-a", None),
            ("pb", "platform", "plat-b", None),
            ("victim", "victim", None, None),
            ("slow", "platform", "plat-a", 1.0),
            ("revoke-api", "platform", "plat-a", None),
            ("revoke-cli", "platform", "plat-a", None),
        ):
            key, info = keys.create_key(s, role, tenant, rate_limit=rate, label=name)
            world.keys[name] = key
            world.key_ids[name] = info.key_id
    for seed in (1, 2, 3, 4):
        world.images[seed] = jpeg(seed)
    import_submission(
        bank_index,
        "ncii",
        Submission([item(world.images[s]) for s in (1, 2, 3)]),
        case_number="CASE-A",
        consent=consent,
    )
    import_submission(
        bank_index,
        "other",
        Submission([item(world.images[4])]),
        case_number="CASE-B",
        consent=consent,
    )
    world.secrets["CASE-A"] = workflow.open_case(db, "CASE-A")
    with db.session() as s:
        tenants = {t: keys.get_tenant(s, t).id for t in ("org-a", "org-b", "plat-a", "plat-b")}
        for number, org in (("CASE-A", "org-a"), ("CASE-B", "org-b")):
            case = repository.get_case(s, number)
            s.add(CaseOwner(case_id=case.id, tenant_id=tenants[org]))
        for bank, plat in (("ncii", "plat-a"), ("other", "plat-b")):
            s.add(BankShare(bank_id=repository.get_bank(s, bank).id, tenant_id=tenants[plat]))
    db.dispose()
    return world


class Server:
    def __init__(self, world: World, workers: int = 1, **env: str) -> None:
        self.world = world
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = world.root / f"server-{self.port}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rempart",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env={**world.env(), "REMPART_API_INDEX_POLL": "0.2", **env},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + self.log.read_text())
            time.sleep(0.1)

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.world.keys[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[Server]:
    srv = Server(world, REMPART_API_MAX_UPLOAD="2000000", REMPART_API_MAX_BODY="1000000")
    yield srv
    srv.stop()


def wait_for(check: object, seconds: float = 10.0) -> float:
    """Poll `check()` until true; the seconds it took (fails after `seconds`)."""
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - start
