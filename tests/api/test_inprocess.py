"""In-process checks (FastAPI TestClient): a fetch that redirects to a private address,
readiness while the index loads or lags the database, and concurrent use."""

from __future__ import annotations

import fcntl
import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rempart.api.app import create_app
from rempart.api.settings import ApiSettings
from rempart.signals.image_hashes import hash_image_bytes
from rempart.store.bank_index import TOKEN_KEY
from rempart.store.db import Database
from tests.api.conftest import World, build_world, jpeg, wait_for


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/photo.jpg":
            body = jpeg(1)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/to-private":
            self._redirect("http://10.20.30.40/x.jpg")
        elif self.path == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif self.path == "/to-loopback-name":
            self._redirect("http://localhost:1/x.jpg")
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="module")
def local_site() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("inproc"))


def settings(world: World, **kw: object) -> ApiSettings:
    return ApiSettings(db_url=world.db_url, home=world.home, index_poll_s=0.1, **kw)  # type: ignore[arg-type]


def auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[who]}"}


def test_redirect_to_a_private_address_is_refused(small_world: World, local_site: str) -> None:
    # Only 127.0.0.1 is allowed here (the test site); every hop is checked again.
    allowed = (ipaddress.ip_network("127.0.0.1/32"),)
    with TestClient(create_app(settings(small_world, fetch_allowed_networks=allowed))) as c:
        h = auth(small_world, "pa")
        ok = c.post("/v1/lookup/url", json={"url": f"{local_site}/photo.jpg"}, headers=h)
        assert ok.status_code == 200, ok.text
        assert ok.json()["matches"][0]["bank"] == "ncii"
        for path in ("/to-private", "/to-metadata"):
            r = c.post("/v1/lookup/url", json={"url": local_site + path}, headers=h)
            assert r.status_code == 400, (path, r.text)
            assert r.json()["reason"] == "private-address"
        r = c.post("/v1/lookup/url", json={"url": f"{local_site}/missing"}, headers=h)
        assert r.status_code == 400 and r.json()["reason"] == "http-error"
    with TestClient(create_app(settings(small_world))) as c:  # nothing allowed: refused
        r = c.post(
            "/v1/lookup/url",
            json={"url": f"{local_site}/photo.jpg"},
            headers=auth(small_world, "pa"),
        )
        assert r.status_code == 400 and r.json()["reason"] == "private-address"


def test_not_ready_while_loading(small_world: World) -> None:
    c = TestClient(create_app(settings(small_world)))  # no lifespan: the index never loads
    r = c.get("/ready")
    assert r.status_code == 503 and r.json()["index"]["loaded"] is False
    r = c.get(
        "/v1/lookup",
        params={"signal_type": "pdq", "signal": "0" * 64},
        headers=auth(small_world, "pa"),
    )
    assert r.status_code == 503 and r.headers["retry-after"] == "1"


def test_not_ready_while_stale(small_world: World) -> None:
    with TestClient(create_app(settings(small_world))) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)
        db = Database(small_world.db_url)
        lock_path = next((small_world.home / "index").glob("*/pdq/lock"))
        with open(lock_path, "a+b") as fh:  # another process is mid-change
            fcntl.flock(fh, fcntl.LOCK_EX)
            db.set_meta(TOKEN_KEY, "another-process-changed-it")
            r = c.get("/ready")
            assert r.status_code == 503 and r.json()["index"]["stale"] is True
            fcntl.flock(fh, fcntl.LOCK_UN)
        wait_for(lambda: c.get("/ready").status_code == 200, seconds=10)  # rebuilt
        h = hash_image_bytes(small_world.images[1], "x")
        r = c.get(
            "/v1/lookup",
            params={"signal_type": "pdq", "signal": h.pdq.hex},
            headers=auth(small_world, "pa"),
        )
        assert r.json()["matches"][0]["bank_entry"] == 1
        db.dispose()


def test_lookups_while_entries_change(small_world: World) -> None:
    """Many threads look up while entries are added and withdrawn: no error, and each
    added hash is found once its import returned."""
    base = hash_image_bytes(small_world.images[2], "x")
    errors: list[str] = []
    stop = threading.Event()
    rates = {"admin": 1e5, "caseworker": 1e5, "platform": 1e5, "victim": 1e5}
    with TestClient(create_app(settings(small_world, rates=rates))) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)

        def reader() -> None:
            while not stop.is_set():
                r = c.get(
                    "/v1/lookup",
                    params={"signal_type": "pdq", "signal": base.pdq.hex},
                    headers=auth(small_world, "ca"),
                )
                if r.status_code != 200 or not r.json()["matches"]:
                    errors.append(f"{r.status_code} {r.text[:200]}")

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for seed in range(900, 906):
                h = hash_image_bytes(jpeg(seed), "x")
                r = c.post(
                    "/v1/banks/ncii/entries",
                    headers=auth(small_world, "ca"),
                    json={"case": "CASE-A", "items": [{"pdq": h.pdq.hex, "md5": h.md5}]},
                )
                assert r.status_code == 201, r.text
                (entry,) = r.json()["bank_entries"]
                found = c.get(
                    "/v1/lookup",
                    params={"signal_type": "pdq", "signal": h.pdq.hex},
                    headers=auth(small_world, "ca"),
                ).json()["matches"]
                assert [m["bank_entry"] for m in found] == [entry]
                assert (
                    c.delete(
                        f"/v1/banks/ncii/entries/{entry}", headers=auth(small_world, "ca")
                    ).status_code
                    == 200
                )
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert errors == []


def test_serve_refuses_bad_options(small_world: World, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rempart.cli import app

    runner = CliRunner()
    env = {"REMPART_DB": small_world.db_url, "REMPART_HOME": str(small_world.home)}
    r = runner.invoke(app, ["serve", "--workers", "0"], env=env)
    assert r.exit_code == 1
    r = runner.invoke(app, ["apikey", "create", "--role", "platform"], env=env)
    assert r.exit_code == 1 and "needs a tenant" in r.output
    r = runner.invoke(app, ["apikey", "create", "--role", "root"], env=env)
    assert r.exit_code == 1
    r = runner.invoke(
        app,
        ["apikey", "create", "--role", "platform", "--tenant", "plat-z", "--label", "t&s"],
        env=env,
    )
    assert r.exit_code == 0
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("rmp_") and len(key) == 56
    listed = runner.invoke(app, ["apikey", "list", "--format", "json"], env=env)
    assert "plat-z" in listed.stdout and key not in listed.stdout
    r = runner.invoke(app, ["bank", "share", "ncii", "--tenant", "org-a"], env=env)
    assert r.exit_code == 1 and "organisation" in r.output
    assert (
        runner.invoke(app, ["bank", "share", "ncii", "--tenant", "plat-z"], env=env).exit_code == 0
    )
    assert (
        runner.invoke(app, ["case", "assign", "CASE-A", "--tenant", "org-b"], env=env).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["case", "assign", "CASE-A", "--tenant", "org-a"], env=env).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["case", "assign", "NOPE", "--tenant", "org-a"], env=env).exit_code == 1
    )


def test_videos_hashed_matched_and_length_limited(small_world: World, tmp_path: Path) -> None:
    from rempart.exchange.submission import SubmissionItem
    from rempart.samples import scene_frames, write_video
    from rempart.signals.vpdq import hash_video_file

    path = write_video(tmp_path / "v.mp4", scene_frames(31, 6, 10, (160, 120)))
    banked = hash_video_file(path, seconds_per_frame=1.0, regions=True)
    item = SubmissionItem.from_video(banked).to_json()
    reencoded = write_video(
        tmp_path / "v2.mkv", scene_frames(31, 6, 10, (160, 120)), codec="mpeg4"
    ).read_bytes()
    with TestClient(create_app(settings(small_world))) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)
        r = c.post(
            "/v1/banks/ncii/entries",
            json={"case": "CASE-A", "items": [item]},
            headers=auth(small_world, "ca"),
        )
        assert r.status_code == 201, r.text
        h = c.post("/v1/hash", content=path.read_bytes(), headers=auth(small_world, "pa"))
        assert h.status_code == 200, h.text
        assert h.json()["media_type"] == "video" and h.json()["md5"] == banked.md5
        m = c.post("/v1/lookup/file", content=reencoded, headers=auth(small_world, "pa"))
        assert m.status_code == 200, m.text
        assert any(x["signal"] == "vpdq" for x in m.json()["matches"]), m.text
        hma = c.post(
            "/m/lookup", files={"file": ("v2.mkv", reencoded)}, headers=auth(small_world, "pa")
        ).json()
        assert hma["vpdq"]["ncii"] and hma["md5"] == {}
    with TestClient(create_app(settings(small_world, max_video_seconds=2.0))) as c:
        r = c.post("/v1/hash", content=path.read_bytes(), headers=auth(small_world, "pa"))
        assert r.status_code == 422 and r.json()["reason"] == "too-long"


def test_fuzz_no_input_gives_a_server_error(tmp_path: Path) -> None:
    """Random bodies, query strings and path values on every route, with keys of every
    role: never a 5xx (a 503 only while loading, which this is not)."""
    import json
    import random
    import re

    world = build_world(tmp_path)
    rng = random.Random(8)
    rates = {"admin": 1e5, "caseworker": 1e5, "platform": 1e5, "victim": 1e5}
    app = create_app(settings(world, rates=rates, victim_failures=10**6))
    values: list[object] = [
        None,
        True,
        -1,
        0,
        2**70,
        1.5,
        "",
        "x" * 300,
        "ncii",
        "CASE-A",
        "f" * 64,
        "0" * 32,
        [],
        [1, "a"],
        {},
        {"a": {"b": []}},
        "\u0000\ud7ff",
        "../../etc/passwd",
    ]
    keys_ = [
        "signal_type",
        "signal",
        "queries",
        "case",
        "items",
        "url",
        "bank_entry",
        "verdict",
        "number",
        "secret",
        "role",
        "tenant",
        "name",
        "threshold",
        "submission",
        "consent",
        "pdq_threshold",
        "rate_limit",
        "limit",
    ]

    def junk_json() -> object:
        if rng.random() < 0.2:
            return rng.choice(values)
        return {rng.choice(keys_): rng.choice(values) for _ in range(rng.randint(0, 5))}

    seen: dict[int, int] = {}
    with TestClient(app) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)
        for template, operations in app.openapi()["paths"].items():
            for method in operations:
                for _ in range(12):
                    path = re.sub(
                        r"\{[^}]+\}",
                        lambda _: rng.choice(
                            ["ncii", "other", "1", "999", "CASE-A", "x" * 80, "%00", "-1"]
                        ),
                        template,
                    )
                    params = {
                        rng.choice(keys_): str(rng.choice(values)) for _ in range(rng.randint(0, 3))
                    }
                    who = rng.choice(["admin", "ca", "pa", "victim"])
                    headers = auth(world, who)
                    kind = rng.random()
                    if kind < 0.4:
                        body = {"content": json.dumps(junk_json()).encode()}
                        headers["content-type"] = "application/json"
                    elif kind < 0.6:
                        body = {"content": rng.randbytes(rng.randint(0, 300))}
                    elif kind < 0.8:
                        body = {"files": {rng.choice(["file", "x"]): ("a.jpg", rng.randbytes(64))}}
                    else:
                        body = {}
                    r = c.request(method.upper(), path, params=params, headers=headers, **body)  # type: ignore[arg-type]
                    assert r.status_code < 500, (method, path, params, body, r.text)
                    seen[r.status_code] = seen.get(r.status_code, 0) + 1
    assert sum(seen.values()) >= 300 and seen.get(200, 0) > 10, seen


def test_query_log_modes_and_retention(tmp_path: Path) -> None:
    from datetime import timedelta

    from rempart.api.querylog import QueryLog
    from rempart.store.models import ApiQuery, utcnow

    db = Database(f"sqlite:///{tmp_path / 'q.db'}")
    log = QueryLog(db, mode="matches", keep_days=30)
    log.add(None, None, "lookup", [("pdq", "a" * 64, []), ("md5", "b" * 32, [{"bank": "x"}])])
    log.flush()
    with db.session() as s:
        rows = s.query(ApiQuery).all()
        assert [r.signal for r in rows] == ["b" * 32]
        rows[0].at = utcnow() - timedelta(days=31)
    assert log.purge() == 1
    off = QueryLog(db, mode="off")
    off.add(None, None, "lookup", [("md5", "c" * 32, [{"bank": "x"}])])
    off.flush()
    with db.session() as s:
        assert s.query(ApiQuery).count() == 0
    with pytest.raises(ValueError):
        QueryLog(db, mode="sometimes")
    db.dispose()
