"""GET /v1/lookup's fast path (routes/lookup.py FastLookup, issue 22 item 3): it answers
exactly as the route does (status, headers, body) over real HTTP, and hands every request
it would refuse to the application, whose route answers it as before."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from rempart.api.app import create_app
from rempart.api.routes.lookup import fast_lookup
from rempart.signals.image_hashes import hash_image_bytes
from tests.api.conftest import Server, World, build_world, wait_for
from tests.api.test_inprocess import auth, settings


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("fastpath"))


def _same(fast: httpx.Response, route: httpx.Response) -> None:
    assert fast.status_code == route.status_code
    assert fast.content == route.content
    drop = {"date"}
    assert [(k, v) for k, v in fast.headers.items() if k not in drop] == [
        (k, v) for k, v in route.headers.items() if k not in drop
    ]


def test_fast_path_answers_as_the_route(server: Server, world: World) -> None:
    pdq = hash_image_bytes(world.images[1], "x").pdq.hex
    cases: list[tuple[str | None, dict[str, str]]] = [
        ("pa", {"signal_type": "pdq", "signal": pdq}),  # a platform: no case, no label
        ("ca", {"signal_type": "pdq", "signal": pdq, "threshold": "10"}),  # her org's case
        ("cb", {"signal_type": "pdq", "signal": pdq}),  # another org: not shared, none
        ("pa", {"signal_type": "pdq", "signal": "0" * 64}),  # no match
        ("pa", {"signal_type": "md5", "signal": "f" * 32}),
        ("pa", {"signal_type": "pdq", "signal": "xyz"}),  # refused: 422 from the route
        ("pa", {"signal_type": "pdq", "signal": pdq, "threshold": "99"}),  # 422
        ("victim", {"signal_type": "pdq", "signal": pdq}),  # 403
        (None, {"signal_type": "pdq", "signal": pdq}),  # 401
    ]
    for who, params in cases:
        with server.client(who) as c:
            fast = c.get("/v1/lookup", params=params)
            # a Content-Length (a body, even empty) sends the request past the fast path
            route = c.get("/v1/lookup", params=params, headers={"Content-Length": "0"})
        _same(fast, route)
        if who in ("pa", "ca") and params["signal"] == pdq and "threshold" not in params:
            assert fast.json()["matches"][0]["bank"] == "ncii"
    # the rate still limits on the fast path: 1 request/s, a bucket of 2
    with server.client("slow") as c:
        codes = [
            c.get("/v1/lookup", params={"signal_type": "pdq", "signal": pdq}).status_code
            for _ in range(4)
        ]
    assert codes[:2] == [200, 200] and 429 in codes[2:]


def _scope(world: World, app: Any, who: str | None, query: str) -> dict[str, Any]:
    headers = [(k.lower().encode(), v.encode()) for k, v in auth(world, who).items()] if who else []
    return {
        "type": "http",
        "method": "GET",
        "path": "/v1/lookup",
        "query_string": query.encode(),
        "headers": headers,
        "app": app,
    }


def test_fast_path_takes_good_requests_and_hands_on_the_others(small_world: World) -> None:
    app = create_app(settings(small_world))
    pdq = hash_image_bytes(small_world.images[2], "x").pdq.hex
    with TestClient(app) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)
        good = f"signal_type=pdq&signal={pdq}"
        answer = asyncio.run(fast_lookup(_scope(small_world, app, "ca", good)))
        assert answer is not None and answer.status_code == 200
        assert (
            bytes(answer.body)
            == c.get(f"/v1/lookup?{good}", headers=auth(small_world, "ca")).content
        )
        for who, query in (
            (None, good),  # no key
            ("victim", good),  # wrong role
            ("pa", "signal_type=pdq&signal=zz"),  # bad hash
            ("pa", f"{good}&threshold=64"),  # bad threshold
            ("pa", "signal_type=pdq"),  # no hash
        ):
            assert asyncio.run(fast_lookup(_scope(small_world, app, who, query))) is None, who
