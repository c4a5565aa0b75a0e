"""The case page's domain (rempart.cases.self_service) and its command line, in process: the
organisation's settings, held or imported files, a withdrawal raced from two threads (one
withdrawal, audited once), a new secret ending the old one, and the CLI's commands."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.api.conftest import CONSENT, item, jpeg
from tests.cases.test_review import rempart

from rempart.access.ratelimit import FailureLimiter
from rempart.cases import self_opened, self_service, self_settings, workflow
from rempart.errors import RempartError
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import AuditEntry


def _doc(seed: int) -> dict[str, object]:
    sub = Submission([item(jpeg(seed))], consent=ConsentRecord.parse(CONSENT, "c"))
    return sub.to_json()


def test_settings_held_or_imported_and_one_withdrawal(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    home = tmp_path / "home"
    run = self_settings.direct(BankIndex(db, home))
    limiter = FailureLimiter(5, 900.0, db, scope="victim-secret")
    try:
        with pytest.raises(self_service.SelfOpenOff):
            self_service.open_self_case(db, home)  # off by default
        self_settings.set_org_settings(db, self_open=True)
        held = self_service.open_self_case(db, home)
        assert self_service.session_case(db, home, held.token) == held.case
        sent = self_service.submit(run, home, held.case, _doc(1))
        assert (sent.held, sent.added) == (True, 0)
        assert self_opened.bank_entries(db, held.case) == 0
        # Acting before review: what she sends is imported (and matched) at once.
        self_settings.set_org_settings(db, act_before_review=True, intake_bank="from-page")
        quick = self_service.open_self_case(db, home)
        sent = self_service.submit(run, home, quick.case, _doc(2))
        assert (sent.held, sent.added) == (False, 1)
        assert self_opened.bank_entries(db, quick.case) == 1
        assert [c.case for c in self_opened.self_opened_cases(db)] == [held.case, quick.case]
        # A new secret: the old one and its sessions stop at once.
        new = workflow.give_new_secret(db, held.case)
        with pytest.raises(self_service.SessionEnded):
            self_service.session_case(db, home, held.token)
        with pytest.raises(self_service.NotRecognised):
            self_service.sign_in(db, home, limiter, held.case, held.secret)
        signed = self_service.sign_in(db, home, limiter, held.case, new)
        # Two withdrawals at once (two tabs): one withdraws, the other is told it is closed.
        outcomes: list[str] = []

        def withdraw() -> None:
            try:
                self_service.withdraw(run, home, held.case)
                outcomes.append("withdrawn")
            except RempartError as exc:
                outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=withdraw) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["CaseClosed", "withdrawn"]
        with db.session() as s:
            entries = s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "case-withdraw", AuditEntry.case_number == held.case)
            )
        assert entries == 1
        assert self_service.status(db, held.case)["hashes_waiting"] == 0  # held file gone
        for call in (
            lambda: self_service.session_case(db, home, signed.token),
            lambda: self_service.sign_in(db, home, limiter, held.case, new),
            lambda: self_service.submit(run, home, held.case, _doc(3)),
        ):
            with pytest.raises(self_service.CaseClosed, match="closed"):
                call()
        # Not a hash file, an empty one, one without her agreement: clear refusals.
        for doc, words in (
            ({"hello": 1}, "not a hash file"),
            ({**_doc(4), "items": []}, "no photos"),
            ({k: v for k, v in _doc(4).items() if k != "consent"}, "agreement"),
        ):
            with pytest.raises(RempartError, match=words):
                self_service.submit(run, home, quick.case, doc)
        with pytest.raises(RempartError, match="too large"):
            self_service.parse_file(b" " * (self_service.MAX_FILE_BYTES + 1))
    finally:
        db.dispose()


def test_the_command_line(rempart_env: Path) -> None:
    assert json.loads(rempart("case", "page-settings", "--format", "json")) == {
        "self_open": False,
        "intake_bank": "intake",
        "act_before_review": False,
        "intake_organisation": None,
    }
    rempart("case", "page-settings", "--self-open", "--intake-bank", "page")
    assert (
        "self-open: yes intake bank: page act before review: no intake organisation: (none)"
        in rempart("case", "page-settings")
    )
    db = Database(os.environ["REMPART_DB"])
    home = Path(os.environ["REMPART_HOME"])
    try:
        opened = self_service.open_self_case(db, home)
        self_service.submit(self_settings.direct(BankIndex(db, home)), home, opened.case, _doc(5))
    finally:
        db.dispose()
    listed = json.loads(rempart("case", "self-opened", "--format", "json"))
    assert [(c["case"], c["hashes_waiting"]) for c in listed] == [(opened.case, 1)]
    assert "1 held file(s) imported, 1 hash(es) added" in rempart("case", "take", opened.case)
    assert json.loads(rempart("case", "self-opened", "--format", "json")) == []
    secret = rempart("case", "new-secret", opened.case).split()[-1]
    assert len(secret) == 11 and secret != opened.secret
    assert "no case NOPE" in rempart("case", "new-secret", "NOPE", code=1)
