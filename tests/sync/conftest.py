"""Two Rempart instances for sync tests: A (the sender: banks, cases, keys) and B (the
receiver), each with its own database and REMPART_HOME; helpers to run `rempart` on either."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rempart.api import keys
from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import BankShare
from tests.api.conftest import World, item, jpeg
from tests.conftest import migrated_sqlite_url

SHARING = {
    "given_by": "Test Person",
    "given_at": "2026-11-01",
    "allow_exchange": True,
    "purpose": "find and remove copies of my images, with partner helplines",
}
NOT_SHARING = {
    "given_by": "Other Person",
    "given_at": "2026-11-01",
    "allow_exchange": False,
    "purpose": "find and remove copies of my images",
}
PARTNER_CONSENT = {
    "given_by": "Helpline A",
    "given_at": "2026-12-01",
    "allow_exchange": False,
    "purpose": "hashes shared by helpline A under its victims' consent",
}


def consent(raw: dict[str, Any]) -> ConsentRecord:
    return ConsentRecord.parse(raw, "consent")


@dataclass
class Sender:
    """Instance A: bank 'shared' (shared with the partner tenant 'helpline-b') holds case
    EX-1 (seeds 1-5, exchange allowed) and case NOX (seed 9, exchange NOT allowed); bank
    'private' (not shared) holds case PRIV (seed 12, exchange allowed)."""

    world: World
    images: dict[int, bytes]


def build_sender(root: Path) -> Sender:
    world = World(root, migrated_sqlite_url(root / "a.db"), root / "home")
    db = Database(world.db_url)
    bank_index = BankIndex(db, world.home)
    with db.session() as s:
        repository.create_bank(s, "shared")
        repository.create_bank(s, "private")
        for name, role, tenant in (
            ("partner", "partner", "helpline-b"),
            ("platform", "platform", "helpline-b"),
            ("other-partner", "partner", "helpline-c"),
            ("admin", "admin", None),
        ):
            key, info = keys.create_key(s, role, tenant, label=name)
            world.keys[name] = key
            world.key_ids[name] = info.key_id
        tenant_id = keys.get_tenant(s, "helpline-b").id
        s.add(BankShare(bank_id=repository.get_bank(s, "shared").id, tenant_id=tenant_id))
    images = {seed: jpeg(seed) for seed in (*range(1, 10), 12, 20, 21, 22)}
    import_submission(
        bank_index,
        "shared",
        Submission([item(images[i]) for i in range(1, 6)]),
        case_number="EX-1",
        consent=consent(SHARING),
    )
    import_submission(
        bank_index,
        "shared",
        Submission([item(images[9])]),
        case_number="NOX",
        consent=consent(NOT_SHARING),
    )
    import_submission(
        bank_index,
        "private",
        Submission([item(images[12])]),
        case_number="PRIV",
        consent=consent(SHARING),
    )
    db.dispose()
    return Sender(world, images)


def build_receiver(root: Path) -> World:
    world = World(root, migrated_sqlite_url(root / "b.db"), root / "home")
    db = Database(world.db_url)
    with db.session() as s:
        repository.create_bank(s, "from-a")
        repository.create_bank(s, "from-a-2")
        key, info = keys.create_key(s, "admin", None, label="admin")
        world.keys["admin"] = key
    db.dispose()
    return world


def rempart(world: World, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`rempart ARGS` on that instance (its database and home)."""
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args],
        env={**world.env(), "COLUMNS": "500"},  # messages on one line
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def write_key(path: Path, key: str) -> Path:
    path.write_text(key + "\n")
    path.chmod(0o600)
    return path
