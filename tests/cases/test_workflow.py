"""Case states, history and the victim's status check through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cases.workflow import check_secret, hash_secret, new_secret
from rempart.cli import app
from tests.cases.test_review import rempart as review_rempart
from tests.cases.test_review import scanned_case
from tests.postgres import execute

pytestmark = pytest.mark.both_databases

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", "REMPART_USER": "cw"})
    assert result.exit_code == code, result.output
    return result.output


def test_secret_hashing() -> None:
    secret = new_secret()
    assert len(secret) == 11 and secret[5] == "-"
    stored = hash_secret(secret)
    assert secret not in stored and stored.startswith("scrypt$")
    assert check_secret(secret.lower().replace("-", " "), stored)  # as she may type it
    assert not check_secret("AAAAA-BBBBB", stored) and not check_secret(secret, None)


def test_open_show_status_and_history(rempart_env: Path, consent_file: Path) -> None:
    out = rempart("case", "open", "C-9")
    secret = out.strip().splitlines()[-1].strip()
    assert len(secret) == 11
    rempart("case", "open", "C-9", code=1)  # a second secret is never issued
    scanned_case(rempart_env, consent_file)  # bank import + scan under C-9: 2 matches
    ref = json.loads(review_rempart("review", "list", "--format", "json"))[0]["ref"]
    review_rempart("review", "decide", ref, "confirmed", "--reason", "her photo")
    rempart("case", "set-status", "C-9", "reviewing", "--note", "matches found")
    rempart("case", "set-status", "C-9", "flying", code=1)
    info = json.loads(rempart("case", "status", "C-9", "--secret", secret))
    assert info["status"] == "reviewing" and info["found"] == 2 and info["confirmed"] == 1
    assert info["confirmed_by_platform"] == {"files": 1}
    assert info["hashes_registered"] == 2 and info["waiting_for_review"] == 1
    text = json.dumps(info)
    assert "found/" not in text and ".png" not in text  # never where or what, only counts
    assert "not recognised" in rempart("case", "status", "C-9", "--secret", "WRONG-SECRT", code=1)
    assert "not recognised" in rempart("case", "status", "NOPE", "--secret", secret, code=1)
    rempart("case", "close", "C-9", "--note", "all removed")
    view = json.loads(rempart("case", "show", "C-9", "--format", "json"))
    assert [h["to"] for h in view["history"]] == ["open", "reviewing", "closed"]
    assert view["history"][1]["by"] == "cw" and view["history"][1]["note"] == "matches found"
    rempart("case", "withdraw", "C-9", "--yes")
    rempart("case", "set-status", "C-9", "open", code=1)  # withdrawn stays withdrawn
    stored = execute(os.environ["REMPART_DB"], "select secret_hash from cases")[0][0]
    assert secret not in stored and secret.replace("-", "") not in stored
    checks = [
        e
        for e in json.loads(rempart("audit", "list", "--format", "json"))
        if e["action"] == "victim-status-check"
    ]
    assert [e["details"]["granted"] for e in checks] == [True, False, False]


def test_concurrent_edits_of_one_case_lose_nothing(rempart_env: Path) -> None:
    """Eight writers change one case at once (separate connections, real SQLite or
    PostgreSQL): every change is recorded once, the audit chain stays whole."""
    from concurrent.futures import ThreadPoolExecutor

    from rempart.cases import workflow
    from rempart.store import audit
    from rempart.store.db import Database

    url = os.environ["REMPART_DB"]
    workflow.open_case(Database(url), "C-CON")

    def change(k: int) -> None:
        db = Database(url)  # each writer its own engine and connections
        for j in range(5):
            workflow.set_status(
                db, "C-CON", ("reviewing", "monitoring")[(k + j) % 2], f"writer {k} step {j}"
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(change, range(8)))
    db = Database(url)
    view = workflow.view(db, "C-CON")
    notes = [h["note"] for h in view.history]
    assert len(notes) == 1 + 40 and len(set(notes)) == 41
    verdict = audit.verify(db)
    assert verdict.ok and verdict.entries == 1 + 40, verdict.problems
