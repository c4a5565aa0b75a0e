"""The server `rempart serve` runs: the HTTP API (rempart.api), the caseworker web UI under
/ui (rempart.web) and her hashing page at /hash/ (rempart.web.hashpage), in one application
sharing one set of services (the database, key checks: rempart.access.services).

Why a module of its own: it is the one place that imports both front-ends, so the API never
imports the UI and the UI never imports the API (tests/test_architecture.py checks it).
`create_app()` is uvicorn's factory (`rempart.server:create_app`); it reads the environment
(REMPART_DB, REMPART_HOME, REMPART_API_*, REMPART_WEB_*) unless given settings (tests)."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from rempart.api.app import create_app as create_api
from rempart.api.settings import ApiSettings
from rempart.web.app import mount as mount_web_ui
from rempart.web.casepage.serve import router as casepage_router
from rempart.web.hashpage.serve import router as hashpage_router
from rempart.web.settings import WebSettings


def create_app(settings: ApiSettings | None = None, web: WebSettings | None = None) -> FastAPI:
    app = create_api(settings)
    if settings is None:  # uvicorn's factory, from the environment: `rempart serve` or not
        _refuse_unsound_start(app)
    mount_web_ui(app, app.state.services, web)  # the caseworker web UI (docs/web.md)
    app.include_router(hashpage_router)  # her hashing page at /hash/ (docs/victim-page.md)
    app.include_router(casepage_router)  # her case page at /case/ (docs/victim-page.md)
    _schedule_removal_checks(app)
    return app


def _refuse_unsound_start(app: FastAPI) -> None:
    """Nothing is served before the keys are sound and every withdrawal the withdrawal
    ledger records is applied (docs/operations.md). `rempart serve` does this before its
    workers start, and then each worker finds nothing to do (the ledger's head is already
    recorded in the database); a server started as `uvicorn rempart.server:create_app
    --factory` (a deployment's own unit file) gets the same checks here. Workers take
    turns (a lock file in the home folder), so two never re-apply the ledger at once. A
    SetupError stops the worker, naming what is wrong."""
    import fcntl
    import logging

    from rempart.ops import keys as ops_keys
    from rempart.store import withdrawal_ledger
    from rempart.store.bank_index import BankIndex

    svc = app.state.services
    home = svc.settings.home
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "serve-start.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ops_keys.check(home, svc.db)
            again = withdrawal_ledger.enforce(BankIndex(svc.db, home), home, reason="serve")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if again.changed:
        logging.getLogger("rempart").warning(
            "Withdrawal ledger re-applied: %s bank entries, %s face templates removed, %s "
            "case(s) marked withdrawn again (recorded in the audit log).",
            again.bank_entries,
            again.face_templates,
            again.cases,
        )


def _schedule_removal_checks(app: FastAPI) -> None:
    """`rempart serve --check-removals-every 24h` (REMPART_CHECK_REMOVALS_EVERY): every
    worker runs a removal-check thread; a claim in the database lets one only run each
    turn (rempart.cases.removal_check, docs/cases.md). Off unless asked for.
    REMPART_CHECK_REMOVALS_ALLOW: private networks (CIDR, comma-separated) it may fetch
    from, for a lab; none by default."""
    every_text = os.environ.get("REMPART_CHECK_REMOVALS_EVERY", "").strip()
    if not every_text:
        return
    from rempart.cases import removal_check, removal_schedule

    every = removal_schedule.parse_every(every_text)
    allowed = tuple(
        ipaddress.ip_network(n.strip(), strict=False)
        for n in os.environ.get("REMPART_CHECK_REMOVALS_ALLOW", "").split(",")
        if n.strip()
    )
    poll = float(os.environ.get("REMPART_CHECK_REMOVALS_POLL", "60"))
    svc = app.state.services
    schedule = removal_schedule.Schedule(
        svc.db,
        svc.settings.home,
        every,
        holder=f"{socket.gethostname()}:{os.getpid()}:{id(app)}",
        poll=min(poll, every.total_seconds()),
        options=replace(removal_check.CHECK_OPTIONS, allowed_networks=allowed),
    )
    app.state.removal_schedule = schedule
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            schedule.start()
            try:
                yield
            finally:
                schedule.stop()

    app.router.lifespan_context = lifespan
