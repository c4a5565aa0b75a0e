"""Adding the caseworker UI to a server's application: its pages under /ui, its static files,
the redirect from /. rempart.server calls `mount` with the services the server shares (the
database, key checks), so the UI needs nothing from the API package."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from rempart.access.ratelimit import FailureLimiter
from rempart.access.services import Services
from rempart.web import routes
from rempart.web.routing import WebState
from rempart.web.session import signing_key
from rempart.web.settings import WebSettings


def mount(app: FastAPI, services: Services, settings: WebSettings | None = None) -> None:
    """Add the UI to `app`; its settings from the environment unless given."""
    home = services.settings.home
    app.state.web = WebState(
        settings or WebSettings.from_env(home),
        signing_key(home),
        FailureLimiter(*routes.LOGIN_FAILURES, services.db, scope="web-login"),  # all workers
        services,
    )
    static = resources.files("rempart") / "web" / "static"
    app.mount("/ui/static", StaticFiles(directory=str(static)), name="ui-static")
    app.include_router(routes.router)
    app.include_router(routes.root_router)
