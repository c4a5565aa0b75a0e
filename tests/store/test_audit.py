"""The audit log through the real CLI: actions are logged; edits and deletions are found."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from tests.postgres import execute

pytestmark = pytest.mark.both_databases

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", "REMPART_USER": "caseworker-1"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


# Her photo's hash file, from the real `hash` command the first time (the same photo each
# time; `hash` writes no audit entry): later tests reuse its bytes instead of hashing again.
_SUBMISSION: list[bytes] = []


def setup_case(home: Path, consent: Path) -> str:
    photos = home / "p"
    photos.mkdir()
    photo_like(1, (200, 150)).save(photos / "a.jpg")
    if not _SUBMISSION:
        rempart("hash", str(photos), "--out", str(home / "s.json"))
        _SUBMISSION.append((home / "s.json").read_bytes())
    else:
        (home / "s.json").write_bytes(_SUBMISSION[0])
    rempart("bank", "create", "b")
    rempart("bank", "import", "b", str(home / "s.json"), "--case", "C-1", "--consent", str(consent))
    rempart("scan", str(photos), "--bank", "b")
    return os.environ["REMPART_DB"]


def test_actions_are_logged_with_who_and_when(rempart_env: Path, consent_file: Path) -> None:
    setup_case(rempart_env, consent_file)
    rempart("case", "withdraw", "C-1", "--yes")
    entries = json.loads(rempart("audit", "list", "--format", "json"))
    assert [e["action"] for e in entries] == [
        "bank-create",
        "bank-import",
        "scan-start",
        "scan-finish",
        "case-withdraw",
    ]
    assert all(e["actor"] == "caseworker-1" and e["at"] for e in entries)
    assert entries[1]["case"] == "C-1" and entries[1]["details"]["added"] == 1
    assert "chain verified" in rempart("audit", "verify")
    case_only = json.loads(rempart("audit", "list", "--case", "C-1", "--format", "json"))
    assert [e["action"] for e in case_only] == ["bank-import", "case-withdraw"]


def test_a_changed_entry_is_found(rempart_env: Path, consent_file: Path) -> None:
    db = setup_case(rempart_env, consent_file)
    execute(db, "update audit_log set details = replace(details, '1', '9') where id = 2")
    out = rempart("audit", "verify", code=1)
    assert "entry 2" in out and "changed" in out
    # a forger who also recomputes the hash breaks the link
    execute(
        db,
        "update audit_log set actor = 'someone else', entry_hash = '%s' where id = 3" % ("ab" * 32),
    )
    out = rempart("audit", "verify", code=1)
    assert "entry 3" in out and "entry 4: does not follow" in out


def test_deleting_entries_breaks_the_chain(rempart_env: Path, consent_file: Path) -> None:
    db = setup_case(rempart_env, consent_file)
    execute(db, "delete from audit_log where id = 2")
    out = rempart("audit", "verify", code=1)
    assert "missing" in out and "entry 3" in out


def test_a_truncated_log_is_found(rempart_env: Path, consent_file: Path) -> None:
    db = setup_case(rempart_env, consent_file)
    execute(db, "delete from audit_log where id = (select max(id) from audit_log)")
    out = rempart("audit", "verify", code=1)
    assert "truncated" in out


def test_a_truncation_stays_found_after_later_commands(
    rempart_env: Path, consent_file: Path
) -> None:
    """Every command that opens the database rewrote the head file, so a second `audit
    verify` (or any command) after a truncation made the log look whole again."""
    db = setup_case(rempart_env, consent_file)
    execute(db, "delete from audit_log where id = (select max(id) from audit_log)")
    rempart("audit", "verify", code=1)
    rempart("bank", "list")
    rempart("bank", "create", "later")  # an audited change after the truncation
    out = rempart("audit", "verify", code=1)
    assert any(w in out for w in ("truncated", "missing", "differs")), out


def test_a_failed_action_leaves_no_entry(rempart_env: Path, consent_file: Path) -> None:
    rempart("bank", "create", "b")
    rempart("bank", "import", "b", str(consent_file), "--case", "C-2", code=1)  # not a submission
    rempart("case", "withdraw", "NOPE", "--yes", code=1)
    entries = json.loads(rempart("audit", "list", "--format", "json"))
    assert [e["action"] for e in entries] == ["bank-create"]
    assert "chain verified" in rempart("audit", "verify")


def test_concurrent_writers_keep_one_chain(rempart_env: Path) -> None:
    """Victim status checks (the audit entry is the transaction's first write) from many
    threads at once: every entry is kept, in one unbroken chain."""
    from concurrent.futures import ThreadPoolExecutor

    from rempart.cases import workflow
    from rempart.store import audit
    from rempart.store.db import Database
    from rempart.store.repository import StoreError

    url = os.environ["REMPART_DB"]
    secret = workflow.open_case(Database(url), "C-A")

    def check(k: int) -> int:
        db = Database(url)
        for _ in range(5):
            try:
                workflow.victim_status(db, "C-A", secret if k % 2 else "WRONG")
            except StoreError:
                pass
        return k

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(check, range(8)))
    verdict = audit.verify(Database(url))
    assert verdict.ok and verdict.entries == 1 + 40, verdict.problems


def test_head_file_written_by_many_writers_at_once(rempart_env: Path) -> None:
    """Server workers write the head file at the same time (found by bench/soak.py: a shared
    temporary name made one of them fail after its change was committed, a 500). Many
    processes and threads writing at once: none fails, and the head is the newest entry."""
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    from rempart.store import audit
    from rempart.store.db import Database

    url = os.environ["REMPART_DB"]
    db = Database(url)
    with db.session() as s:
        audit.record(s, "test-entry", details={"k": 0})
        s.commit()

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_heads, args=(url, rempart_env)) for _ in range(3)]
    for p in procs:
        p.start()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: _write_heads(url, rempart_env), range(6)))
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    head = json.loads((rempart_env / audit.HEAD_FILE).read_text())
    verdict = audit.verify(Database(url), rempart_env)
    assert verdict.ok, verdict.problems
    assert head["count"] == verdict.entries
    assert not list(rempart_env.glob("audit-head.*.tmp"))


def _write_heads(url: str, home: Path) -> None:
    from rempart.store import audit
    from rempart.store.db import Database

    db = Database(url)
    for _ in range(40):
        audit.write_head(db, home)
