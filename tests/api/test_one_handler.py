"""The API answers every refusal of Rempart through one handler (rempart.api.errors), with the
bodies and statuses it always gave; and the API is an application of its own: the web UI and
her hashing page are added by rempart.server, the one module that imports both front-ends."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rempart.access.tenancy import not_found
from rempart.api import errors
from rempart.api.index_keeper import NotReady
from rempart.errors import Forbidden, RempartError, SetupError
from rempart.exchange.consent import FormatError
from rempart.media.errors import MediaError
from rempart.sources.urls import Refused
from rempart.store.errors import StoreError

RAISED: dict[str, BaseException] = {
    "store": StoreError("no bank named 'x'"),
    "media": MediaError("/tmp/upload-123", "corrupt", "not a complete JPEG"),
    "url-large": Refused("too-large", "https://example.org/a: over 50 MB"),
    "url-timeout": Refused("timeout", "https://example.org/a: timed out"),
    "not-ready": NotReady("the index is loading"),
    "format": FormatError("consent: missing 'purpose'"),
    "not-visible": not_found(),
    "forbidden": Forbidden("a platform key may not do this"),
    "setup": SetupError("no key file at /srv/secret/keys/evidence.key"),
    "overflow": OverflowError("int too large"),
    "bug": RuntimeError("a bug, with internals: /srv/secret"),
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    errors.install(app)
    for name, exc in RAISED.items():
        app.add_api_route(f"/{name}", _raising(exc))
    return TestClient(app, raise_server_exceptions=False)


def _raising(exc: BaseException) -> Callable[[], None]:
    def route() -> None:
        raise exc

    return route


@pytest.mark.parametrize(
    ("name", "status", "body"),
    [
        ("store", 400, {"detail": "no bank named 'x'"}),
        ("media", 422, {"detail": "not a complete JPEG", "reason": "corrupt"}),  # no path
        ("url-large", 413, {"detail": "https://example.org/a: over 50 MB", "reason": "too-large"}),
        ("url-timeout", 400, {"detail": "https://example.org/a: timed out", "reason": "timeout"}),
        ("not-ready", 503, {"detail": "the index is loading"}),
        ("format", 422, {"detail": "consent: missing 'purpose'"}),
        ("not-visible", 404, {"detail": "not found"}),
        ("forbidden", 403, {"detail": "a platform key may not do this"}),
        ("setup", 500, {"detail": "internal error (logged on the server)"}),  # no path
        ("overflow", 404, {"detail": "not found"}),
        ("bug", 500, {"detail": "internal error (logged on the server)"}),
    ],
)
def test_each_refusal_keeps_its_answer(
    client: TestClient, name: str, status: int, body: dict[str, str]
) -> None:
    r = client.get(f"/{name}")
    assert (r.status_code, r.json()) == (status, body)
    assert (r.headers.get("retry-after") == "1") == (name == "not-ready")


def test_one_handler_for_every_rempart_error() -> None:
    """Not one handler per kind: a new kind of refusal needs no change here."""
    app = FastAPI()
    errors.install(app)
    handled = {k for k in app.exception_handlers if isinstance(k, type)}
    assert RempartError in handled
    assert not handled & {StoreError, MediaError, Refused, NotReady, FormatError}

    class NewRefusal(RempartError):
        status = 409

    app.add_api_route("/new", _raising(NewRefusal("already done")))
    r = TestClient(app).get("/new")
    assert (r.status_code, r.json()) == (409, {"detail": "already done"})


def test_the_api_alone_and_the_composed_server(tmp_path: Path) -> None:
    from rempart.api.app import create_app as create_api
    from rempart.api.settings import ApiSettings
    from rempart.server import create_app

    settings = ApiSettings(db_url=f"sqlite:///{tmp_path / 'r.db'}", home=tmp_path / "h")
    api, server = create_api(settings), create_app(settings)
    with TestClient(api) as a, TestClient(server) as s:
        for path in ("/ui/login", "/hash/", "/ui/static/app.css"):
            assert a.get(path).status_code == 404, path  # the API alone: no UI, no page
            assert s.get(path).status_code != 404, path
        assert a.get("/health").status_code == s.get("/health").status_code == 200
        # the UI and the page add nothing to the API's schema
        assert a.get("/openapi.json").json() == s.get("/openapi.json").json()
    assert server.state.web.services is server.state.services  # one set of services


def test_api_and_web_ui_import_each_other_not() -> None:
    """Importing the API loads no module of the web UI, and the web UI none of the API (a
    fresh interpreter each; tests/test_architecture.py checks the source too)."""
    probe = (
        "import json, sys, importlib; importlib.import_module(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('rempart.'))))"
    )
    loaded = {}
    for module in ("rempart.api.app", "rempart.web.app"):
        out = subprocess.run(
            [sys.executable, "-c", probe, module],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        loaded[module] = json.loads(out.stdout)
    assert "rempart.api.routes.lookup" in loaded["rempart.api.app"]
    assert not [m for m in loaded["rempart.api.app"] if m.startswith("rempart.web")]
    assert "rempart.web.routes" in loaded["rempart.web.app"]
    assert not [m for m in loaded["rempart.web.app"] if m.startswith("rempart.api")]
