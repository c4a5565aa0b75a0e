"""The caseworker web UI (docs/web.md), served by `rempart serve` under /ui: server-rendered
pages (Jinja2), a little JavaScript, everything served from this package (no CDN)."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from rempart.api.ratelimit import FailureLimiter


def mount(app: FastAPI) -> None:
    """Add the UI to the API's app (its services: database, keys, settings)."""
    from rempart.web import routes
    from rempart.web.routing import WebState
    from rempart.web.session import signing_key
    from rempart.web.settings import WebSettings

    home = app.state.services.settings.home
    app.state.web = WebState(WebSettings.from_env(home), signing_key(home),
                             FailureLimiter(*routes.LOGIN_FAILURES))  # fmt: skip
    static = resources.files("rempart") / "web" / "static"
    app.mount("/ui/static", StaticFiles(directory=str(static)), name="ui-static")
    app.include_router(routes.router)
    app.include_router(routes.root_router)
