"""The web UI's one error handler (rempart.web.routing.error_page): every refusal a page's
handler raises, its own or any other part of Rempart's, becomes the UI's error page with the
message and the status (never the API's JSON, never a 500), with the security headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient

from rempart.access.auth import Authenticator
from rempart.access.ratelimit import FailureLimiter
from rempart.access.services import Services
from rempart.access.tenancy import not_found
from rempart.api.settings import ApiSettings
from rempart.media.errors import MediaError
from rempart.store.db import Database
from rempart.store.errors import StoreError
from rempart.web.auth import LoginRequired, WebError, WebForbidden, WebNotFound
from rempart.web.routing import WebRoute, WebState
from rempart.web.settings import WebSettings

RAISED: dict[str, BaseException] = {
    "login": LoginRequired(),
    "csrf": WebForbidden("error.csrf"),
    "gone": WebNotFound("error.not_found"),
    "bad-scan": WebError("scan.bad_request"),
    "store": StoreError("case CASE-X was withdrawn"),
    "not-visible": not_found(),
    "media": MediaError("/tmp/x.jpg", "corrupt", "not a complete JPEG"),
    "overflow": OverflowError("int too large"),
    "too-large": HTTPException(413, "request body over the 16 byte limit"),
}


def _raising(exc: BaseException) -> Callable[[Request], Response]:
    def route(request: Request) -> Response:
        raise exc

    return route


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("web-errors")
    settings = ApiSettings(db_url=f"sqlite:///{root / 'r.db'}", home=root / "home")
    db = Database(settings.db_url)
    services = Services(settings, db, Authenticator(db, settings.rates, 2.0))
    app = FastAPI()
    app.state.web = WebState(
        WebSettings(cookie_secure=False), b"k" * 32, FailureLimiter(10, 900.0), services
    )
    router = APIRouter(prefix="/ui", route_class=WebRoute)
    for name, exc in RAISED.items():
        router.add_api_route(f"/{name}", _raising(exc))
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as c:
        yield c
    db.dispose()


@pytest.mark.parametrize(
    ("name", "status", "text"),
    [
        ("csrf", 403, "This form has expired"),
        ("gone", 404, "Nothing here, or nothing you may see."),
        ("bad-scan", 400, ""),
        ("store", 400, "case CASE-X was withdrawn"),  # the case layer's refusal, as it is
        ("not-visible", 404, "Nothing here, or nothing you may see."),
        ("media", 422, "not a complete JPEG"),  # was the API's JSON before the one handler
        ("overflow", 404, "Nothing here, or nothing you may see."),
        ("too-large", 413, "This request was refused."),
    ],
)
def test_each_refusal_is_a_page(client: TestClient, name: str, status: int, text: str) -> None:
    r = client.get(f"/ui/{name}", headers={"accept-language": "en"})
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert text in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_no_session_goes_to_the_sign_in_page(client: TestClient) -> None:
    r = client.get("/ui/login?x=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=%2Fui%2Flogin%3Fx%3D1"


def test_the_ui_errors_are_rempart_errors() -> None:
    from rempart.errors import Forbidden, NotFound, RempartError

    assert issubclass(LoginRequired, RempartError) and issubclass(WebError, RempartError)
    assert WebForbidden("error.csrf").status == 403 and isinstance(WebForbidden("k"), Forbidden)
    assert WebNotFound("k").status == 404 and isinstance(WebNotFound("k"), NotFound)
    assert WebError("k").status == 400
