"""The server `rempart serve` runs: the HTTP API (rempart.api), the caseworker web UI under
/ui (rempart.web) and her hashing page at /hash/ (rempart.web.hashpage), in one application
sharing one set of services (the database, key checks: rempart.access.services).

Why a module of its own: it is the one place that imports both front-ends, so the API never
imports the UI and the UI never imports the API (tests/test_architecture.py checks it).
`create_app()` is uvicorn's factory (`rempart.server:create_app`); it reads the environment
(REMPART_DB, REMPART_HOME, REMPART_API_*, REMPART_WEB_*) unless given settings (tests)."""

from __future__ import annotations

from fastapi import FastAPI

from rempart.api.app import create_app as create_api
from rempart.api.settings import ApiSettings
from rempart.web.app import mount as mount_web_ui
from rempart.web.casepage.serve import router as casepage_router
from rempart.web.hashpage.serve import router as hashpage_router
from rempart.web.settings import WebSettings


def create_app(settings: ApiSettings | None = None, web: WebSettings | None = None) -> FastAPI:
    app = create_api(settings)
    mount_web_ui(app, app.state.services, web)  # the caseworker web UI (docs/web.md)
    app.include_router(hashpage_router)  # her hashing page at /hash/ (docs/victim-page.md)
    app.include_router(casepage_router)  # her case page at /case/ (docs/victim-page.md)
    return app
