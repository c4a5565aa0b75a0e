"""The HTTP API as a FastAPI application: `create_app()` builds it from the environment
(REMPART_DB, REMPART_HOME, REMPART_API_*), or from given settings in tests: its routes, its
middleware (client address, body limits), its one error handler (api/errors.py), its
services (app.state.services) and its reference at /docs. The server `rempart serve` runs is
composed by rempart.server, which adds the web UI and her hashing page to this app; the API
itself never imports the UI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from rempart import __version__
from rempart.access.proxies import ClientAddress
from rempart.api import apidocs, errors
from rempart.api.auth import security_schemes
from rempart.api.limits import BodyLimit
from rempart.api.routes import admin, banks, cases, feedback, health, hma, lookup, queries, sync
from rempart.api.services import Services
from rempart.api.settings import ApiSettings

UPLOAD_PATHS = frozenset({"/v1/hash", "/v1/lookup/file", "/m/lookup", "/h/hash"})

DESCRIPTION = """\
Rempart's HTTP API: match uploads against shared hash lists of non-consensual intimate
images, report what was removed, manage banks and cases, and let a victim check her case.

Every call but /health and /ready needs an API key (`Authorization: Bearer rmp_...` or
`X-API-Key: rmp_...`) with a role: admin, caseworker, platform or victim. See docs/api.md.
"""


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings.from_env()
    svc = Services.build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        svc.start()
        try:
            yield
        finally:
            svc.stop()

    # /docs and /redoc: our own script-free page (api/apidocs.py), not FastAPI's, which
    # loads Swagger UI and ReDoc from a CDN. FastLookupApp: FastAPI, with GET /v1/lookup's
    # fast path tried before FastAPI's own per-request work (routes/lookup.py)
    app = lookup.FastLookupApp(
        title="Rempart API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = svc
    errors.install(app)
    # a batch lookup: at most about 3 structural bytes per hash ({, and two commas)
    item_caps = {"/v1/lookup/batch": 4 * settings.max_batch + 16}
    app.add_middleware(ClientAddress, proxies=settings.trusted_proxies)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        uploads=settings.max_upload_bytes,
        upload_paths=UPLOAD_PATHS,
        json_items=settings.max_json_items,
        item_caps=item_caps,
    )
    app.add_middleware(lookup.FastLookup)  # GET /v1/lookup's fast path (routes/lookup.py)
    for module in (health, lookup, hma, banks, feedback, cases, queries, admin, sync):
        app.include_router(module.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {})["securitySchemes"] = security_schemes()
            for path, operations in schema["paths"].items():
                if path not in ("/health", "/ready"):
                    for op in operations.values():
                        op["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    @app.get("/redoc", include_in_schema=False)
    def docs() -> HTMLResponse:
        return apidocs.page(app.openapi())

    return app
