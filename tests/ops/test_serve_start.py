"""`rempart serve` re-applies the withdrawal ledger before it listens: a database put back
by hand from before a withdrawal (a restore that bypassed `rempart restore`) loses the
withdrawn entries again, audited; a damaged ledger stops the server from starting."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_until_listening(log: Path, uvicorn: bool = False) -> tuple[int, str]:
    """Start `rempart serve` (or uvicorn on rempart.server's factory, as a deployment's own
    unit file may); stop it once it listens (or ends). Its exit code (0 when it was
    listening and we stopped it) and what it printed."""
    port = str(free_port())
    command = ["-m", "rempart", "serve", "--port", port]
    if uvicorn:
        command = ["-m", "uvicorn", "rempart.server:create_app", "--factory", "--port", port]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "300"},
        )
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                if b"Rempart API on" in log.read_bytes() or b"Uvicorn running" in log.read_bytes():
                    break
                time.sleep(0.1)
            code = proc.poll()
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
    return (0 if code is None else code), log.read_text()


def test_serve_reapplies_the_ledger_before_listening(rempart_env: Path, consent_file: Path) -> None:
    tmp = rempart_env
    db_file = Path(os.environ["REMPART_DB"].removeprefix("sqlite:///"))
    (tmp / "hers").mkdir()
    photo_like(5, (160, 120)).save(tmp / "hers" / "5.jpg", quality=90)
    rempart("hash", str(tmp / "hers"), "--out", str(tmp / "s.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank", "import", "b", str(tmp / "s.json"), "--case", "C-7", "--consent", str(consent_file)
    )
    with sqlite3.connect(db_file) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(db_file, tmp / "before.db")
    rempart("case", "withdraw", "C-7", "--yes")
    # the old database put back by hand, as a restore outside Rempart would (through
    # SQLite, so that connections still open in this process see it)
    old, live = sqlite3.connect(tmp / "before.db"), sqlite3.connect(db_file)
    old.backup(live)
    old.close()
    live.close()
    assert json.loads(rempart("case", "show", "C-7", "--format", "json"))["bank_entries"]

    code, printed = serve_until_listening(tmp / "serve.log")
    assert code == 0 and "Withdrawal ledger re-applied: 1 bank entries" in printed, printed
    view = json.loads(rempart("case", "show", "C-7", "--format", "json"))
    assert view["bank_entries"] == [] and view["status"] == "withdrawn"
    entries = json.loads(rempart("audit", "list", "--format", "json"))
    assert [e["details"]["reason"] for e in entries if e["action"] == "withdrawal-reapplied"] == [
        "serve"
    ]

    # a damaged ledger: the server does not start, and says why
    ledger = tmp / "home" / "withdrawals.ledger"
    ledger.write_text(ledger.read_text().replace('"seq":1', '"seq":2'))
    code, printed = serve_until_listening(tmp / "serve2.log")
    assert code == 1 and "error:" in printed and "withdrawals.ledger" in printed, printed
    assert "Rempart API on" not in printed and "Traceback" not in printed

    # the same checks when uvicorn is started on the factory directly (no `rempart serve`)
    code, printed = serve_until_listening(tmp / "serve3.log", uvicorn=True)
    assert code != 0 and "withdrawals.ledger" in printed, printed
    assert "Uvicorn running" not in printed
    ledger.write_text(ledger.read_text().replace('"seq":2', '"seq":1'))
    old, live = sqlite3.connect(tmp / "before.db"), sqlite3.connect(db_file)
    old.backup(live)
    old.close()
    live.close()
    code, printed = serve_until_listening(tmp / "serve4.log", uvicorn=True)
    assert code == 0 and "Withdrawal ledger re-applied" in printed, printed
    shown = subprocess.run(  # a fresh process: this one's connections predate the swap
        [sys.executable, "-m", "rempart", "case", "show", "C-7", "--format", "json"],
        capture_output=True,
        check=True,
    )
    assert json.loads(shown.stdout)["bank_entries"] == []
