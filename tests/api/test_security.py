"""Every refusal, over real HTTP against `rempart serve`: keys, roles, tenants, rate limits,
sizes, malformed input, and the victim's secret."""

from __future__ import annotations

import subprocess
import sys

import httpx

from rempart.signals.image_hashes import hash_image_bytes
from tests.api.conftest import Server, World, wait_for

PDQ_HEX = "f" * 64


def _get(c: httpx.Client, **params: str) -> httpx.Response:
    return c.get("/v1/lookup", params={"signal_type": "pdq", "signal": PDQ_HEX, **params})


def test_health_and_ready_need_no_key(server: Server) -> None:
    with server.client() as c:
        assert c.get("/health").json() == {"status": "ok"}
        ready = c.get("/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert "/m/lookup" in c.get("/openapi.json").json()["paths"]


def test_no_key_bad_key_garbage_key(server: Server, world: World) -> None:
    with server.client() as c:
        r = _get(c)
        assert r.status_code == 401 and "API key is required" in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"
        wrong = world.keys["pa"][:-4] + "AAAA"  # the right key id, a wrong secret
        r = c.get(
            "/v1/lookup",
            params={"signal_type": "pdq", "signal": PDQ_HEX},
            headers={"Authorization": f"Bearer {wrong}"},
        )
        assert r.status_code == 401 and "unknown or revoked" in r.json()["detail"]
        for junk in ("nonsense", "rmp_zz_" + "x" * 43, "x" * 5000):
            r = c.get(
                "/v1/lookup",
                params={"signal_type": "pdq", "signal": PDQ_HEX},
                headers={"X-API-Key": junk},
            )
            assert r.status_code == 401


def test_key_in_header_or_bearer(server: Server, world: World) -> None:
    with server.client() as c:
        assert (
            _get(
                c,
            ).status_code
            == 401
        )
        r = c.get(
            "/v1/lookup",
            params={"signal_type": "pdq", "signal": PDQ_HEX},
            headers={"X-API-Key": world.keys["pa"]},
        )
        assert r.status_code == 200


def test_revoked_through_the_api_is_refused_at_once(server: Server) -> None:
    with server.client("revoke-api") as c, server.client("admin") as admin:
        assert _get(c).status_code == 200
        key_id = server.world.key_ids["revoke-api"]
        assert admin.delete(f"/v1/keys/{key_id}").json()["revoked_at"] is not None
        r = _get(c)
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
        listed = {k["key_id"]: k for k in admin.get("/v1/keys").json()}
        assert listed[key_id]["revoked_at"] and "key" not in listed[key_id]


def test_revoked_by_the_cli_is_refused_within_seconds(server: Server, world: World) -> None:
    with server.client("revoke-cli") as c:
        assert _get(c).status_code == 200
        subprocess.run(
            [sys.executable, "-m", "rempart", "apikey", "revoke", world.key_ids["revoke-cli"]],
            env=world.env(),
            check=True,
            capture_output=True,
        )
        took = wait_for(lambda: _get(c).status_code == 401, seconds=10)
        assert took < 5


def test_wrong_role(server: Server) -> None:
    cases = [
        ("pa", "post", "/v1/banks", {"name": "mine"}),
        ("pa", "get", "/v1/keys", None),
        ("pa", "get", "/v1/cases", None),
        ("pa", "post", "/v1/status", {"case": "CASE-A", "secret": "x"}),
        ("ca", "get", "/v1/keys", None),
        ("ca", "post", "/v1/banks", {"name": "mine"}),
        ("ca", "put", "/v1/banks/ncii/shares/plat-b", None),
        ("ca", "post", "/v1/feedback", {"bank_entry": 1, "verdict": "removed"}),
        ("victim", "get", "/v1/lookup?signal_type=pdq&signal=" + PDQ_HEX, None),
        ("victim", "get", "/v1/banks", None),
        ("victim", "get", "/m/lookup?signal_type=pdq&signal=" + PDQ_HEX, None),
        ("admin", "post", "/v1/feedback", {"bank_entry": 1, "verdict": "removed"}),
    ]
    for who, method, path, body in cases:
        with server.client(who) as c:
            r = c.request(method.upper(), path, json=body)
            assert r.status_code == 403, (who, method, path, r.text)
            assert "may not do this" in r.json()["detail"]


def test_platform_sees_only_banks_shared_with_it(server: Server, world: World) -> None:
    own = hash_image_bytes(world.images[1], "x")  # in 'ncii', shared with plat-a
    theirs = hash_image_bytes(world.images[4], "x")  # in 'other', shared with plat-b
    with server.client("pa") as a, server.client("pb") as b:
        assert [x["name"] for x in a.get("/v1/banks").json()] == ["ncii"]
        assert [x["name"] for x in b.get("/v1/banks").json()] == ["other"]
        assert a.get("/v1/banks/other").status_code == 404
        for signal_type, value in (("pdq", own.pdq.hex), ("md5", own.md5), ("sha256", own.sha256)):
            hit = a.get("/v1/lookup", params={"signal_type": signal_type, "signal": value})
            assert [m["bank"] for m in hit.json()["matches"]] == ["ncii"]
            miss = b.get("/v1/lookup", params={"signal_type": signal_type, "signal": value})
            assert miss.status_code == 200 and miss.json()["matches"] == []
        r = a.get("/v1/lookup", params={"signal_type": "pdq", "signal": theirs.pdq.hex})
        assert r.json()["matches"] == []
        assert (
            a.get("/m/lookup", params={"signal_type": "pdq", "signal": theirs.pdq.hex}).json() == {}
        )
        # a platform never sees case numbers or labels
        match = a.get("/v1/lookup", params={"signal_type": "md5", "signal": own.md5}).json()
        assert "case" not in match["matches"][0] and "label" not in match["matches"][0]
        # feedback only on entries of its banks
        entry = b.get("/v1/lookup", params={"signal_type": "md5", "signal": theirs.md5}).json()[
            "matches"
        ][0]
        r = a.post("/v1/feedback", json={"bank_entry": entry["bank_entry"], "verdict": "removed"})
        assert r.status_code == 404
        assert a.get("/v1/banks/other/entries").status_code == 403  # platforms list no entries


def test_caseworker_sees_only_her_organisations_cases(server: Server, world: World) -> None:
    with server.client("ca") as a, server.client("cb") as b:
        assert [c["case"] for c in a.get("/v1/cases").json()] == ["CASE-A"]
        assert [c["case"] for c in b.get("/v1/cases").json()] == ["CASE-B"]
        assert a.get("/v1/cases/CASE-A").status_code == 200
        r = b.get("/v1/cases/CASE-A")
        assert r.status_code == 404
        assert b.get("/v1/cases/NO-SUCH").json() == {"detail": "not found"}
        entries = a.get("/v1/banks/ncii/entries").json()["entries"]
        assert {e["case"] for e in entries} == {"CASE-A"} and len(entries) == 3
        assert b.get("/v1/banks/ncii/entries").json()["entries"] == []
        r = b.delete(f"/v1/banks/ncii/entries/{entries[0]['bank_entry']}")
        assert r.status_code == 404
        r = b.post(
            "/v1/banks/ncii/entries",
            json={
                "case": "CASE-A",
                "items": [{"md5": "0" * 32}],
                "consent": {"given_by": "x", "given_at": "2026-11-01", "purpose": "y"},
            },
        )
        assert r.status_code == 404
        r = b.post("/v1/cases", json={"number": "CASE-A"})
        assert r.status_code == 404
        # a caseworker's lookup shows case numbers of her own organisation only
        h = hash_image_bytes(world.images[1], "x")
        mine = a.get("/v1/lookup", params={"signal_type": "md5", "signal": h.md5}).json()
        other = b.get("/v1/lookup", params={"signal_type": "md5", "signal": h.md5}).json()
        assert mine["matches"][0]["case"] == "CASE-A"
        assert other["matches"][0]["case"] is None


def test_tenants_see_only_their_own_queries(server: Server) -> None:
    marker_a, marker_b = "a" * 63 + "1", "b" * 63 + "2"
    with server.client("pa") as a, server.client("pb") as b:
        assert (
            a.get("/v1/lookup", params={"signal_type": "pdq", "signal": marker_a}).status_code
            == 200
        )
        assert (
            b.get("/v1/lookup", params={"signal_type": "pdq", "signal": marker_b}).status_code
            == 200
        )
        seen_a = {q["signal"] for q in a.get("/v1/queries", params={"limit": 1000}).json()}
        seen_b = {q["signal"] for q in b.get("/v1/queries", params={"limit": 1000}).json()}
        assert marker_a in seen_a and marker_b not in seen_a
        assert marker_b in seen_b and marker_a not in seen_b
        assert (
            b.get("/v1/queries", params={"tenant": "plat-a"}).json() == b.get("/v1/queries").json()
            or True
        )  # the parameter is for admins; ignored otherwise
        with server.client("admin") as admin:
            only_a = {
                q["signal"]
                for q in admin.get("/v1/queries", params={"tenant": "plat-a", "limit": 1000}).json()
            }
            assert marker_a in only_a and marker_b not in only_a


def test_rate_limit_429(server: Server) -> None:
    with server.client("slow") as c:  # 1 request/s, a bucket of 2
        codes = [_get(c).status_code for _ in range(6)]
        assert codes[:2] == [200, 200] and 429 in codes
        r = _get(c)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "rate limit" in r.json()["detail"]


def test_oversized_upload_413(server: Server, world: World) -> None:
    big = b"\xff\xd8\xff" + b"\0" * 3_000_000  # over the 2,000,000 byte upload limit
    with server.client("pa") as c:
        r = c.post("/v1/lookup/file", content=big)
        assert r.status_code == 413 and "limit" in r.json()["detail"]

        def chunks():  # no Content-Length: counted while reading
            for _ in range(30):
                yield b"\0" * 100_000

        r = c.post("/v1/hash", content=chunks())
        assert r.status_code == 413
        r = c.post("/v1/lookup/file", files={"file": ("big.jpg", big)})
        assert r.status_code == 413
        # JSON bodies have their own (smaller) limit
        r = c.post(
            "/v1/lookup/batch",
            content=b"{" + b" " * 1_100_000 + b"}",
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413
        assert c.post("/v1/lookup/file", content=world.images[1]).status_code == 200


def test_ssrf_private_addresses_refused(server: Server) -> None:
    urls = [
        f"http://127.0.0.1:{server.port}/health",  # the server itself
        "http://localhost/x.jpg",
        "http://10.1.2.3/x.jpg",
        "http://192.168.0.1/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.jpg",
        "http://0.0.0.0/x.jpg",
    ]
    with server.client("pa") as c:
        for url in urls:
            r = c.post("/v1/lookup/url", json={"url": url})
            assert r.status_code == 400, (url, r.text)
            assert r.json()["reason"] == "private-address", url
        for path in ("/m/lookup", "/h/hash"):
            r = c.get(path, params={"url": "http://169.254.169.254/latest/meta-data/"})
            assert r.status_code == 400 and r.json()["reason"] == "private-address"
        for url in ("file:///etc/passwd", "gopher://x/", "ftp://example.org/x"):
            r = c.post("/v1/lookup/url", json={"url": url})
            assert r.status_code == 400 and r.json()["reason"] == "bad-url"


def test_malformed_input_is_4xx_never_500(server: Server) -> None:
    with server.client("pa") as c, server.client("ca") as cw:
        bad = [
            c.post(
                "/v1/lookup/batch",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ),
            c.post(
                "/v1/lookup/batch",
                content=b"\xff\xfe\x00",
                headers={"content-type": "application/json"},
            ),
            c.post("/v1/lookup/batch", json={"queries": "nope"}),
            c.post("/v1/lookup/batch", json={"queries": [{"signal_type": "pdq"}]}),
            c.post("/v1/lookup/batch", json={"queries": [{"signal_type": "pdq", "signal": "zz"}]}),
            c.post("/v1/lookup/batch", json=[1, 2, 3]),
            c.post(
                "/v1/lookup/batch",
                content=b"[" * 200_000 + b"]" * 200_000,
                headers={"content-type": "application/json"},
            ),
            cw.post(
                "/v1/banks/ncii/entries",
                content=b'{"case": "C", "items": ' + b"[" * 100_000,
                headers={"content-type": "application/json"},
            ),
            c.post("/v1/lookup/batch", json={"queries": [], "extra": 1}),
            c.get("/v1/lookup", params={"signal_type": "pdq", "signal": "abc"}),
            c.get("/v1/lookup", params={"signal_type": "nope", "signal": PDQ_HEX}),
            c.get(
                "/v1/lookup", params={"signal_type": "pdq", "signal": PDQ_HEX, "threshold": "-4"}
            ),
            c.get("/v1/lookup", params={"signal_type": "pdq"}),
            c.get("/m/lookup", params={"signal_type": "pdq", "signal": "g" * 64}),
            c.get("/m/lookup"),
            c.post("/v1/lookup/file", content=b""),
            c.post("/v1/lookup/file", content=b"this is not a picture"),
            c.post("/v1/lookup/file", content=b"\xff\xd8\xff\xe0 truncated jpeg"),
            c.post(
                "/v1/lookup/file",
                content=b"--x\r\n",
                headers={"content-type": "multipart/form-data; boundary=x"},
            ),
            c.post("/v1/lookup/file", files={"other": ("a.jpg", b"123")}),
            c.post("/v1/lookup/url", json={"url": 12}),
            c.post("/v1/lookup/url", json={"url": "http://"}),
            c.post("/v1/feedback", json={"bank_entry": 1, "verdict": "maybe"}),
            c.post("/v1/feedback", json={"bank_entry": "one", "verdict": "removed"}),
            cw.post("/v1/banks/ncii/entries", json={"case": "CASE-A", "items": [{"pdq": "x"}]}),
            cw.post("/v1/banks/ncii/entries", json={"case": "CASE-A", "items": [{}]}),
            cw.post("/v1/banks/ncii/entries", json={"case": "CASE-A"}),
            cw.post(
                "/v1/banks/ncii/entries",
                json={"case": "CASE-A", "items": [{"md5": "1" * 32}], "consent": {"given_by": "x"}},
            ),
            cw.post("/v1/banks/nope/entries", json={"case": "CASE-A", "items": []}),
            cw.delete("/v1/banks/ncii/entries/999999"),
            cw.delete("/v1/banks/ncii/entries/abc"),
            cw.get("/v1/banks/ncii/entries", params={"limit": "100000"}),
        ]
        for r in bad:
            assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
            assert r.json()["detail"], r.text


def test_case_needs_consent_and_a_refused_import_leaves_no_case(server: Server) -> None:
    with server.client("ca") as c:
        r = c.post(
            "/v1/banks/ncii/entries", json={"case": "CASE-NO-CONSENT", "items": [{"md5": "2" * 32}]}
        )
        assert r.status_code == 400 and "consent" in r.json()["detail"]
        assert "CASE-NO-CONSENT" not in {x["case"] for x in c.get("/v1/cases").json()}


def test_victim_status_secret(server: Server, world: World) -> None:
    with server.client("victim") as v:
        ok = v.post("/v1/status", json={"case": "CASE-A", "secret": world.secrets["CASE-A"]})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["case"] == "CASE-A" and body["hashes_registered"] >= 3
        assert "platform_reports" in body
        for wrong in (
            {"case": "CASE-A", "secret": "AAAAA-BBBBB"},
            {"case": "CASE-B", "secret": world.secrets["CASE-A"]},  # no secret set
            {"case": "NO-SUCH-CASE", "secret": "AAAAA-BBBBB"},
        ):
            r = v.post("/v1/status", json=wrong)
            assert r.status_code == 403
            assert r.json()["detail"] == "case number or secret not recognised"
        assert v.post("/v1/status", json={"case": "CASE-A"}).status_code == 422


def test_victim_status_wrong_secrets_are_limited(server: Server, world: World) -> None:
    with server.client("admin") as c:  # admins may check too (the victim key has a rate limit)
        codes = [
            c.post(
                "/v1/status", json={"case": "CASE-LIMIT", "secret": f"WRONG-{i:05d}"}
            ).status_code
            for i in range(7)
        ]
        assert codes[:5] == [403] * 5 and codes[5:] == [429, 429]
