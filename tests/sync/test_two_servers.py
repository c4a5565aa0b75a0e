"""Sync between two real Rempart servers on loopback: A serves its shared bank, B pulls with
`rempart sync pull`: first everything, then only what changed (withdrawals included), then
nothing; refusals (bad key, wrong role, bank not shared, server down); consent to exchange
respected; an interrupted pull resumes without duplicates."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from rempart.cli import app
from rempart.signals.image_hashes import hash_image_bytes
from rempart.store.db import Database
from rempart.store.models import Bank, BankItem, ItemSignal
from tests.api.conftest import Server, World, free_port, item, wait_for
from tests.sync.conftest import (
    PARTNER_CONSENT,
    SHARING,
    Sender,
    build_receiver,
    build_sender,
    write_json,
    write_key,
)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def rempart(world: World, *args: str) -> Ran:
    """`rempart ARGS` on that instance, in this process: the servers are real processes and
    the pulls real HTTP; a child process per command only cost its start-up (about a second
    of CPU each)."""
    env = {"REMPART_DB": world.db_url, "REMPART_HOME": str(world.home), "COLUMNS": "500"}
    done = CliRunner().invoke(app, list(args), env=env)
    return Ran(done.exit_code, done.stdout, done.stderr)


@dataclass
class Pair:
    a: Sender
    b: World
    server_a: Server
    server_b: Server
    root: Path

    def key_file(self, who: str) -> Path:
        return write_key(self.root / f"{who}.key", self.a.world.keys[who])

    def pull(
        self, *extra: str, url: str | None = None, into: str = "from-a", key: str = "partner"
    ) -> tuple[int, dict[str, object] | None, str]:
        r = rempart(
            self.b,
            "sync",
            "pull",
            url or self.server_a.url,
            "--bank",
            "shared",
            "--into",
            into,
            "--key-file",
            str(self.key_file(key)),
            "--partner",
            "helpline-a",
            "--consent",
            str(self.root / "partner-consent.json"),
            "--format",
            "json",
            *extra,
        )
        summary = json.loads(r.stdout) if r.returncode in (0, 3) and r.stdout.strip() else None
        return r.returncode, summary, r.stderr


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("sync")
    (root / "a").mkdir()
    (root / "b").mkdir()
    a = build_sender(root / "a")
    b = build_receiver(root / "b")
    write_json(root / "partner-consent.json", PARTNER_CONSENT)
    server_a = Server(a.world)
    try:
        server_b = Server(b)
    except Exception:
        server_a.stop()
        raise
    yield Pair(a, b, server_a, server_b, root)
    server_b.stop()
    server_a.stop()


def hashes(data: bytes) -> dict[str, str]:
    h = hash_image_bytes(data, "x.jpg")
    return {"pdq": h.pdq.hex, "md5": h.md5, "sha256": h.sha256}


def matches(world: World, value: str) -> list[dict[str, object]]:
    r = rempart(world, "match", value, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def entries(world: World, bank: str) -> list[str]:
    """The SHA-256 of every entry of a bank (one per entry)."""
    db = Database(world.db_url)
    with db.session() as s:
        rows = s.scalars(
            select(ItemSignal.value)
            .join(BankItem, ItemSignal.item_id == BankItem.id)
            .join(Bank, BankItem.bank_id == Bank.id)
            .where(Bank.name == bank, ItemSignal.signal_type == "sha256")
        ).all()
        count = s.scalar(
            select(func.count(BankItem.id))
            .join(Bank, BankItem.bank_id == Bank.id)
            .where(Bank.name == bank)
        )
    db.dispose()
    assert count == len(rows)
    return list(rows)


def test_pull_everything_then_only_changes_then_nothing(pair: Pair) -> None:
    a, b = pair.a, pair.b
    code, first, err = pair.pull()
    assert code == 0, err
    assert first is not None
    assert (first["received"], first["added"], first["withdrawn"]) == (5, 5, 0), first
    assert first["withheld_by_partner"] == 1  # NOX: no consent to exchange
    assert first["consent_recorded"] is True
    assert sorted(entries(b, "from-a")) == sorted(
        hashes(a.images[i])["sha256"] for i in range(1, 6)
    )
    # B matches them, from the command line and through its own server
    hit = matches(b, hashes(a.images[1])["sha256"])
    assert [(h["bank"], h["case"]) for h in hit] == [("from-a", "partner-helpline-a")]
    assert any(h["signal"] == "pdq" for h in matches(b, hashes(a.images[3])["pdq"]))
    with pair.server_b.client("admin") as c:
        wait_for(
            lambda: (
                c.get(
                    "/v1/lookup",
                    params={"signal_type": "md5", "signal": hashes(a.images[2])["md5"]},
                ).json()["matches"]
                != []
            )
        )
    # the hash without consent to exchange never reached B, in any form
    nox = hashes(a.images[9])
    for value in nox.values():
        assert matches(b, value) == []

    # nothing new: nothing transferred
    code, again, err = pair.pull()
    assert code == 0, err
    assert again is not None
    assert (again["received"], again["added"], again["withdrawn_received"]) == (0, 0, 0)
    assert again["pages"] == 1 and again["changes"] == 0

    # A adds two photos (through its API) and withdraws one entry
    with pair.server_a.client("admin") as c:
        r = c.post(
            "/v1/banks/shared/entries",
            json={"case": "EX-1", "items": [item(a.images[i]).to_json() for i in (6, 7)]},
        )
        assert r.status_code == 201, r.text
        listed = c.get("/v1/banks/shared/entries", params={"case": "EX-1"}).json()["entries"]
        withdrawn_id = listed[1]["bank_entry"]  # seed 2
        r = c.delete(f"/v1/banks/shared/entries/{withdrawn_id}")
        assert r.status_code == 200, r.text
    code, change, err = pair.pull()
    assert code == 0, err
    assert change is not None
    assert (change["received"], change["added"]) == (2, 2), change
    assert change["withdrawn_received"] == 3  # its PDQ, MD5 and SHA-256, as digests
    assert change["withdrawn"] == 1
    assert change["withheld_by_partner"] == 0
    two = hashes(a.images[2])
    assert matches(b, two["sha256"]) == [] and matches(b, two["md5"]) == []
    assert not [h for h in matches(b, two["pdq"]) if h["bank"] == "from-a"]
    assert sorted(entries(b, "from-a")) == sorted(
        hashes(a.images[i])["sha256"] for i in (1, 3, 4, 5, 6, 7)
    )
    with pair.server_b.client("admin") as c:  # B's running server forgets it too
        wait_for(
            lambda: (
                c.get("/v1/lookup", params={"signal_type": "md5", "signal": two["md5"]}).json()[
                    "matches"
                ]
                == []
            )
        )

    code, last, err = pair.pull()
    assert code == 0 and last is not None and last["received"] == 0, err
    assert all(s["consent_recorded"] is False for s in (again, change, last))  # once only
    listed = rempart(b, "sync", "list", "--format", "json")
    rows = json.loads(listed.stdout)
    assert [(r["remote"], r["remote_bank"], r["local_bank"]) for r in rows] == [
        (pair.server_a.url, "shared", "from-a")
    ]
    # both sides audited it, and their chains verify
    for world in (a.world, b):
        assert rempart(world, "audit", "verify").returncode == 0
    served = json.loads(rempart(a.world, "audit", "list", "--format", "json").stdout)
    assert sum(e["action"] == "sync-serve" for e in served) >= 4
    assert any(
        e["actor"].startswith("api:helpline-b:") for e in served if e["action"] == "sync-serve"
    )


def test_refusals(pair: Pair) -> None:
    # a key A does not know
    bogus = write_key(pair.root / "bogus.key", "rmp_0123abcd_" + "x" * 43)
    r = rempart(
        pair.b,
        "sync",
        "pull",
        pair.server_a.url,
        "--bank",
        "shared",
        "--into",
        "from-a",
        "--key-file",
        str(bogus),
        "--partner",
        "helpline-a",
    )
    assert r.returncode == 1 and "refused the key" in r.stderr, r.stderr
    # a platform key may look up, not pull
    code, _, err = pair.pull(key="platform")
    assert code == 1 and "may not pull" in err, err
    # a partner whose tenant the bank is not shared with; and a bank not shared at all
    code, _, err = pair.pull(key="other-partner")
    assert code == 1 and "no bank 'shared' shared with this key" in err, err
    r = rempart(
        pair.b,
        "sync",
        "pull",
        pair.server_a.url,
        "--bank",
        "private",
        "--into",
        "from-a",
        "--key-file",
        str(pair.key_file("partner")),
        "--partner",
        "helpline-a",
    )
    assert r.returncode == 1 and "no bank 'private'" in r.stderr, r.stderr
    # no such bank here
    code, _, err = pair.pull(into="nowhere")
    assert code == 1 and "no bank named 'nowhere'" in err, err
    # a server that is down
    code, _, err = pair.pull(url=f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "cannot reach" in err, err
    # plain http to another machine, and a file that holds no key
    r = rempart(
        pair.b,
        "sync",
        "pull",
        "http://192.0.2.1",
        "--bank",
        "shared",
        "--into",
        "from-a",
        "--key-file",
        str(pair.key_file("partner")),
        "--partner",
        "x",
    )
    assert r.returncode == 1 and "use https" in r.stderr, r.stderr
    junk = pair.root / "junk.key"
    junk.write_text("hello")
    r = rempart(
        pair.b,
        "sync",
        "pull",
        pair.server_a.url,
        "--bank",
        "shared",
        "--into",
        "from-a",
        "--key-file",
        str(junk),
        "--partner",
        "x",
    )
    assert r.returncode == 1 and "does not hold a Rempart API key" in r.stderr, r.stderr
    # no consent record for a new partner case: nothing stored, checkpoint not moved
    r = rempart(
        pair.b,
        "sync",
        "pull",
        pair.server_a.url,
        "--bank",
        "shared",
        "--into",
        "from-a-2",
        "--key-file",
        str(pair.key_file("partner")),
        "--partner",
        "nobody",
    )
    assert r.returncode == 1 and "no consent record" in r.stderr, r.stderr
    assert entries(pair.b, "from-a-2") == []


class Flaky:
    """A loopback proxy in front of A that fails on request `fail_at` (counted from 1):
    by closing the connection, or by answering a malformed page."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.count = 0
        self.fail_at: int | None = None
        self.how = "drop"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                outer.count += 1
                if outer.fail_at is not None and outer.count == outer.fail_at:
                    if outer.how == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    body = b'{"format": "rempart-hash-list", "items": [tru'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                r = httpx.get(
                    outer.target + self.path,
                    headers={"Authorization": self.headers.get("Authorization", "")},
                    timeout=30,
                )
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("content-type", ""))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()


def test_an_interrupted_pull_resumes_without_duplicates(pair: Pair) -> None:
    a = pair.a
    with pair.server_a.client("admin") as c:  # more to pull, in small pages
        r = c.post(
            "/v1/banks/shared/entries",
            json={
                "case": "EX-2",
                "items": [item(a.images[i]).to_json() for i in (20, 21, 22)],
                "consent": SHARING,
            },
        )
        assert r.status_code == 201, r.text
    proxy = Flaky(pair.server_a.url)
    try:
        expected = {
            s["sha256"] for s in (hashes(a.images[i]) for i in (1, 3, 4, 5, 6, 7, 20, 21, 22))
        }
        proxy.fail_at = 3  # the third page: the connection drops
        code, _, err = pair.pull("--limit", "2", url=proxy.url, into="from-a-2")
        assert code == 1 and "connection failed" in err and "Checkpoint kept" in err, err
        got = entries(pair.b, "from-a-2")
        assert 0 < len(got) < len(expected) and len(set(got)) == len(got)
        proxy.count, proxy.fail_at, proxy.how = 0, 2, "garbage"  # then a malformed page
        code, _, err = pair.pull("--limit", "2", url=proxy.url, into="from-a-2")
        assert code == 1 and "malformed page" in err, err
        proxy.fail_at = None
        code, done, err = pair.pull("--limit", "2", url=proxy.url, into="from-a-2")
        assert code == 0 and done is not None, err
        got = entries(pair.b, "from-a-2")
        assert len(got) == len(set(got)) and set(got) == expected
        assert done["duplicates"] == 0  # each page was applied once
        assert matches(pair.b, hashes(a.images[2])["sha256"]) == []
    finally:
        proxy.stop()
