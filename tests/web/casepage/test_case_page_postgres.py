"""Her case page on PostgreSQL (issue 14): a real `rempart serve` over a real PostgreSQL
server, driven in chromium: she opens a case, sends a hash file, sees it held, two tabs
withdraw at once (one withdrawal, audited once), the case is then closed; wrong secrets are
locked out, counted in PostgreSQL (across workers: tests/access/test_shared_limits.py on
PostgreSQL, and test_case_page.py's `--workers 2` server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.api.conftest import Server, World
from tests.postgres import PostgresServer
from tests.web.casepage.test_case_page import PHONE, SIGN_IN, Tab, _audit, _hash_file, _world

from rempart.cases import self_opened, self_service
from rempart.store.db import Database
from rempart.store.models import LimitFailure


@pytest.fixture(scope="module")
def pg_world(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[World]:
    with postgres_server.database() as url:
        yield _world(tmp_path_factory.mktemp("casepage-pg"), url)


@pytest.fixture(scope="module")
def pg_server(pg_world: World) -> Iterator[Server]:
    srv = Server(pg_world)  # one worker: startup is the cost here
    yield srv
    srv.stop()


def test_her_case_on_postgresql(
    browser: Any, pg_server: Server, pg_world: World, tmp_path: Path
) -> None:
    db = Database(pg_world.db_url)
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    context.set_default_timeout(20_000)
    try:
        tab = Tab(context, pg_server.url)
        tab.page.click("#open-case")
        tab.page.wait_for_selector("#opened-step:not([hidden])")
        number = tab.page.text_content("#opened-case") or ""
        secret = tab.page.text_content("#opened-secret") or ""
        tab.page.check("#opened-ok")
        tab.page.click("#opened-continue")
        tab.page.wait_for_selector("#case-step:not([hidden])")
        hashes = tmp_path / "hashes.json"
        _hash_file(hashes, 61)
        tab.page.set_input_files("#hash-file", str(hashes))
        tab.page.click("#send-submit")
        tab.page.wait_for_selector("#send-status:has-text('Sent')")
        tab.page.wait_for_selector('[data-count="hashes_waiting"]:has-text("1")')
        assert [c.case for c in self_opened.self_opened_cases(db)] == [number]

        tab2 = Tab(context, pg_server.url)
        tab2.sign_in(number, secret)
        tab2.page.wait_for_selector("#case-step:not([hidden])")
        for t in (tab, tab2):
            t.page.check("#withdraw-ok")
        tab.page.evaluate("document.getElementById('withdraw-submit').click()")
        tab2.page.evaluate("document.getElementById('withdraw-submit').click()")
        for t in (tab, tab2):
            t.page.wait_for_selector("#withdraw-status:has-text('withdrawn')")
        assert _audit(db, "case-withdraw", number) == 1
        assert self_service.status(db, number)["hashes_waiting"] == 0  # held file deleted
        assert context.cookies() == []

        # Wrong secrets: five, then the right one refused (counted in PostgreSQL).
        with httpx.Client(base_url=pg_server.url, timeout=20) as c:
            other = c.post("/v1/case-page/open", json={}).json()
            for _ in range(5):
                r = c.post(SIGN_IN, json={"case": other["case"], "secret": "WRONG"})
                assert r.status_code == 403
            r = c.post(SIGN_IN, json={"case": other["case"], "secret": other["secret"]})
            assert r.status_code == 403
        with db.session() as s:
            counted = select(func.count()).where(LimitFailure.scope == "victim-secret")
            assert s.scalar(counted) == 5
    finally:
        context.close()
        db.dispose()
