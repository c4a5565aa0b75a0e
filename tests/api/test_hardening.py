"""Issue 19, over real HTTP against `rempart serve`: a batch of millions of empty objects is
refused before it is parsed (memory stays small), refusals about another organisation's
objects name nothing, huge ids are 4xx (never 500), case numbers have one pattern."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from rempart.api.proxies import client_address, parse_networks
from tests.api.conftest import Server, World

FOREIGN = "CASE-A"  # org-a's case: org-b (key cb) must learn nothing about it
HUGE = str(10**30)


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_batch_of_many_empty_objects_is_refused_before_parsing(server: Server) -> None:
    # the module server takes 1,000,000-byte bodies: 333,000 objects (100+ MB once parsed)
    body = b'{"queries":[' + b",".join([b"{}"] * 333_000) + b"]}"
    assert len(body) < 1_000_000
    before = _rss_kb(server.proc.pid)
    with server.client("pa") as c:
        r = c.post("/v1/lookup/batch", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text[:300]
        assert "too many JSON items" in r.json()["detail"]
        # the same for any other JSON body (a bank's entries)
    with server.client("ca") as cw:
        items = b'{"case":"CASE-A","items":[' + b",".join([b"{}"] * 333_000) + b"]}"
        r = cw.post(
            "/v1/banks/ncii/entries", content=items, headers={"content-type": "application/json"}
        )
        assert r.status_code in (413, 422), r.text[:300]
    grown_mb = (_peak_rss_kb(server.proc.pid) - before) / 1024
    assert grown_mb < 40, f"the server grew by {grown_mb:.0f} MB"
    # a full batch of 1,000 real queries still passes
    with server.client("pa") as c:
        full = {
            "queries": [{"signal_type": "md5", "signal": f"{i:032x}"} for i in range(1000)],
            "threshold": 10,
        }
        r = c.post("/v1/lookup/batch", json=full)
        assert r.status_code == 200 and len(r.json()["results"]) == 1000


def test_refusals_about_another_organisations_objects_name_nothing(
    server: Server, world: World
) -> None:
    with server.client("ca") as a:
        entries = a.get("/v1/banks/ncii/entries").json()["entries"]
    theirs = entries[0]["bank_entry"]
    with server.client("cb") as b, server.client("pb") as pb:
        refusals = {
            "delete foreign entry": b.delete(f"/v1/banks/ncii/entries/{theirs}"),
            "delete missing entry": b.delete("/v1/banks/ncii/entries/99999"),
            "delete entry, own bank": b.delete(f"/v1/banks/other/entries/{theirs}"),
            "foreign case": b.get(f"/v1/cases/{FOREIGN}"),
            "missing case": b.get("/v1/cases/NO-SUCH"),
            "withdraw foreign case": b.post(f"/v1/cases/{FOREIGN}/withdraw"),
            "add to foreign case": b.post(
                "/v1/banks/ncii/entries",
                json={
                    "case": FOREIGN,
                    "items": [{"md5": "0" * 32}],
                    "consent": {"given_by": "x", "given_at": "2026-11-01", "purpose": "y"},
                },
            ),
            "open foreign case": b.post("/v1/cases", json={"number": FOREIGN}),
            "feedback, entry not shared": pb.post(
                "/v1/feedback", json={"bank_entry": theirs, "verdict": "removed"}
            ),
            "feedback, missing entry": pb.post(
                "/v1/feedback", json={"bank_entry": 99999, "verdict": "removed"}
            ),
            "bank not shared": pb.get("/v1/banks/ncii"),
        }
    for what, r in refusals.items():
        assert r.status_code == 404, (what, r.status_code, r.text)
        assert r.json() == {"detail": "not found"}, (what, r.text)
        assert FOREIGN not in r.text and str(theirs) not in r.text, (what, r.text)


@pytest.mark.parametrize(
    "method,path",
    [
        ("DELETE", f"/v1/banks/ncii/entries/{HUGE}"),
        ("GET", f"/v1/banks/ncii/entries?offset={HUGE}"),
        ("GET", f"/v1/cases?offset={HUGE}"),
        ("GET", f"/v1/banks/ncii/entries?limit={HUGE}"),
    ],
)
def test_huge_ids_are_refused_not_500(server: Server, method: str, path: str) -> None:
    with server.client("admin") as c:
        r = c.request(method, path)
    assert r.status_code in (404, 422), (path, r.status_code, r.text)


def test_huge_bank_entry_in_feedback_is_refused(server: Server) -> None:
    with server.client("pa") as c:
        r = c.post(
            "/v1/feedback",
            content=b'{"bank_entry": ' + HUGE.encode() + b', "verdict": "removed"}',
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "number", ["../../etc", "a/b", ".hidden", "x" * 65, "CASE 1", "-x", "a..b", "<b>"]
)
def test_case_numbers_have_one_pattern(server: Server, number: str) -> None:
    consent = {"given_by": "x", "given_at": "2026-11-01", "purpose": "y"}
    with server.client("ca") as c:
        r = c.post("/v1/cases", json={"number": number})
        assert r.status_code in (400, 422), (number, r.text)
        r = c.post(
            "/v1/banks/ncii/entries",
            json={"case": number, "consent": consent, "items": [{"md5": "7" * 32}]},
        )
        assert r.status_code in (400, 422), (number, r.text)
        assert number not in {x["case"] for x in c.get("/v1/cases").json()}


def test_a_case_number_of_the_pattern_is_accepted(server: Server) -> None:
    with server.client("ca") as c:
        ok = c.post("/v1/cases", json={"number": "HL-2026_07.b"})
        assert ok.status_code == 201, ok.text


# ---- sign-in limits, X-Forwarded-For, /docs ---------------------------------------------


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m is not None
    return m.group(1)


def _sign_in(c: httpx.Client, key: str, **headers: str) -> int:
    token = _csrf(c.get("/ui/login").text)
    return c.post("/ui/login", data={"csrf": token, "key": key}, headers=headers).status_code


def test_forwarded_for_is_ignored_unless_from_a_trusted_proxy(world: World) -> None:
    srv = Server(world, REMPART_WEB_COOKIE_SECURE="0")
    try:
        # 10 wrong keys, each claiming another address: all count against this client
        for i in range(10):
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                assert (
                    _sign_in(
                        c, "rmp_00000000_" + "x" * 43, **{"X-Forwarded-For": f"198.51.100.{i}"}
                    )
                    == 401
                )
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            assert _sign_in(c, "wrong", **{"X-Forwarded-For": "203.0.113.9"}) == 429
            # a valid key from the same address is never refused by the lock-out
            assert _sign_in(c, world.keys["ca"]) == 303
    finally:
        srv.stop()


def test_a_trusted_proxy_forwards_the_clients_address(world: World) -> None:
    srv = Server(world, REMPART_WEB_COOKIE_SECURE="0", REMPART_TRUSTED_PROXIES="127.0.0.1")
    try:
        for _ in range(10):
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                assert _sign_in(c, "wrong", **{"X-Forwarded-For": "1.2.3.4, 198.51.100.7"}) == 401
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            # the proxy saw 198.51.100.7 (the right-most entry): it is locked out ...
            assert _sign_in(c, "wrong", **{"X-Forwarded-For": "198.51.100.7"}) == 429
            # ... and another client behind the same proxy is not
            assert _sign_in(c, "wrong", **{"X-Forwarded-For": "198.51.100.8"}) == 401
    finally:
        srv.stop()


def test_client_address_rules() -> None:
    proxies = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert client_address("192.0.2.1", "1.1.1.1", proxies) == "192.0.2.1"  # not a proxy
    assert client_address("127.0.0.1", "1.1.1.1, 2.2.2.2", proxies) == "2.2.2.2"
    assert client_address("127.0.0.1", "2.2.2.2, 10.1.1.1", proxies) == "2.2.2.2"
    assert client_address("127.0.0.1", "garbage", proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", None, proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", "1.1.1.1", ()) == "127.0.0.1"  # none trusted
    with pytest.raises(ValueError, match="not an address"):
        parse_networks("10.0.0.0/8, nope")


def test_docs_load_nothing_from_elsewhere(server: Server) -> None:
    for path in ("/docs", "/redoc"):
        r = httpx.get(server.url + path, timeout=30)
        assert r.status_code == 200, path
        assert "<script" not in r.text and "cdn" not in r.text.lower()
        assert "/v1/lookup/batch" in r.text
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
    assert httpx.get(server.url + "/openapi.json", timeout=30).json()["paths"]


def test_a_server_killed_mid_import_leaves_no_empty_case(world: World) -> None:
    """The case, its entries, its owner and the audit entry are one transaction: killed
    (SIGKILL) while a new case's 20,000 entries are imported, the server leaves either all
    of it or nothing (it used to leave the case, empty, without an audit entry)."""
    import random
    import signal
    import threading
    import time

    from sqlalchemy import func, select

    from rempart.store.db import Database
    from rempart.store.models import AuditEntry, BankItem, Case, CaseOwner

    rng = random.Random(3)
    items = [{"md5": f"{rng.getrandbits(128):032x}"} for _ in range(20_000)]
    consent = {"given_by": "x", "given_at": "2026-11-01", "purpose": "y"}
    srv = Server(world)
    try:

        def post() -> None:
            try:
                with srv.client("ca") as c:
                    c.post(
                        "/v1/banks/ncii/entries",
                        json={"case": "KILL-1", "items": items, "consent": consent},
                    )
            except httpx.HTTPError:
                pass

        sender = threading.Thread(target=post)
        sender.start()
        time.sleep(1.0)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=30)
        sender.join(timeout=60)
    finally:
        srv.stop()
    db = Database(world.db_url)
    try:
        with db.session() as s:
            case = s.scalar(select(Case).where(Case.number == "KILL-1"))
            if case is not None:  # the import had committed: all of it is there
                assert (
                    s.scalar(select(func.count(BankItem.id)).where(BankItem.case_id == case.id))
                    == 20_000
                )
                assert s.get(CaseOwner, case.id) is not None
                assert (
                    s.scalar(
                        select(func.count(AuditEntry.id)).where(
                            AuditEntry.action == "bank-import", AuditEntry.case_number == "KILL-1"
                        )
                    )
                    == 1
                )
    finally:
        db.dispose()


def test_each_organisation_scans_only_its_own_inbox(world: World) -> None:
    root = world.root / "scan-root"
    for org, folder in (("org-a", "a-secret-batch"), ("org-b", "b-batch")):
        (root / org / folder).mkdir(parents=True)
    srv = Server(world, REMPART_WEB_COOKIE_SECURE="0", REMPART_WEB_SCAN_ROOT=str(root))
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as b:
            assert _sign_in(b, world.keys["cb"]) == 303
            page = b.get("/ui/scans").text
            assert "b-batch" in page and "a-secret-batch" not in page and "org-a" not in page
            token = _csrf(page)
            for folder in (
                "a-secret-batch",
                "../org-a/a-secret-batch",
                "org-a",
                str(root / "org-a" / "a-secret-batch"),
            ):
                r = b.post("/ui/scans", data={"csrf": token, "folder": folder, "bank": "other"})
                assert r.status_code == 400, (folder, r.status_code)
            r = b.post("/ui/scans", data={"csrf": token, "folder": "b-batch", "bank": "other"})
            assert r.status_code == 303
        with httpx.Client(base_url=srv.url, timeout=30) as a:
            assert _sign_in(a, world.keys["ca"]) == 303
            page = a.get("/ui/scans").text
            assert "a-secret-batch" in page and "b-batch" not in page
        with httpx.Client(base_url=srv.url, timeout=30) as admin:
            assert _sign_in(admin, world.keys["admin"]) == 303
            page = admin.get("/ui/scans").text
            assert "org-a/a-secret-batch" in page and "org-b/b-batch" in page
    finally:
        srv.stop()


def test_huge_ids_in_the_web_ui_are_not_found(world: World) -> None:
    srv = Server(world, REMPART_WEB_COOKIE_SECURE="0")
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            assert _sign_in(c, world.keys["admin"]) == 303
            for path in (
                f"/ui/notices/{HUGE}",
                f"/ui/matches/m{HUGE}",
                f"/ui/matches/m{HUGE}/preview.png",
                f"/ui/cases/{HUGE}",
            ):
                r = c.get(path)
                assert r.status_code == 404, (path, r.status_code)
            r = c.post(
                f"/ui/notices/{HUGE}/mark",
                data={"csrf": _csrf(c.get("/ui/").text), "state": "removed"},
            )
            assert r.status_code in (400, 404, 422), r.status_code
    finally:
        srv.stop()
