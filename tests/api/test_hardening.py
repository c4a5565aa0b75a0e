"""Issue 19, over real HTTP against `rempart serve`: a batch of millions of empty objects is
refused before it is parsed (memory stays small), refusals about another organisation's
objects name nothing, huge ids are 4xx (never 500), case numbers have one pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

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
        r = c.post("/v1/lookup/batch", content=body,
                   headers={"content-type": "application/json"})  # fmt: skip
        assert r.status_code == 413, r.text[:300]
        assert "too many JSON items" in r.json()["detail"]
        # the same for any other JSON body (a bank's entries)
    with server.client("ca") as cw:
        items = b'{"case":"CASE-A","items":[' + b",".join([b"{}"] * 333_000) + b"]}"
        r = cw.post("/v1/banks/ncii/entries", content=items,
                    headers={"content-type": "application/json"})  # fmt: skip
        assert r.status_code in (413, 422), r.text[:300]
    grown_mb = (_peak_rss_kb(server.proc.pid) - before) / 1024
    assert grown_mb < 40, f"the server grew by {grown_mb:.0f} MB"
    # a full batch of 1,000 real queries still passes
    with server.client("pa") as c:
        full = {"queries": [{"signal_type": "md5", "signal": f"{i:032x}"} for i in range(1000)],
                "threshold": 10}
        r = c.post("/v1/lookup/batch", json=full)
        assert r.status_code == 200 and len(r.json()["results"]) == 1000


def test_refusals_about_another_organisations_objects_name_nothing(server: Server,
                                                                   world: World) -> None:
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
            "add to foreign case": b.post("/v1/banks/ncii/entries", json={
                "case": FOREIGN, "items": [{"md5": "0" * 32}], "consent": {
                    "given_by": "x", "given_at": "2026-11-01", "purpose": "y"}}),
            "open foreign case": b.post("/v1/cases", json={"number": FOREIGN}),
            "feedback, entry not shared": pb.post("/v1/feedback", json={
                "bank_entry": theirs, "verdict": "removed"}),
            "feedback, missing entry": pb.post("/v1/feedback", json={
                "bank_entry": 99999, "verdict": "removed"}),
            "bank not shared": pb.get("/v1/banks/ncii"),
        }
    for what, r in refusals.items():
        assert r.status_code == 404, (what, r.status_code, r.text)
        assert r.json() == {"detail": "not found"}, (what, r.text)
        assert FOREIGN not in r.text and str(theirs) not in r.text, (what, r.text)


@pytest.mark.parametrize("method,path", [
    ("DELETE", f"/v1/banks/ncii/entries/{HUGE}"),
    ("GET", f"/v1/banks/ncii/entries?offset={HUGE}"),
    ("GET", f"/v1/cases?offset={HUGE}"),
    ("GET", f"/v1/banks/ncii/entries?limit={HUGE}"),
])  # fmt: skip
def test_huge_ids_are_refused_not_500(server: Server, method: str, path: str) -> None:
    with server.client("admin") as c:
        r = c.request(method, path)
    assert r.status_code in (404, 422), (path, r.status_code, r.text)


def test_huge_bank_entry_in_feedback_is_refused(server: Server) -> None:
    with server.client("pa") as c:
        r = c.post("/v1/feedback", content=b'{"bank_entry": ' + HUGE.encode()
                   + b', "verdict": "removed"}', headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("number", ["../../etc", "a/b", ".hidden", "x" * 65, "CASE 1",
                                    "-x", "a..b", "<b>"])  # fmt: skip
def test_case_numbers_have_one_pattern(server: Server, number: str) -> None:
    consent = {"given_by": "x", "given_at": "2026-11-01", "purpose": "y"}
    with server.client("ca") as c:
        r = c.post("/v1/cases", json={"number": number})
        assert r.status_code in (400, 422), (number, r.text)
        r = c.post("/v1/banks/ncii/entries", json={"case": number, "consent": consent,
                                                   "items": [{"md5": "7" * 32}]})
        assert r.status_code in (400, 422), (number, r.text)
        assert number not in {x["case"] for x in c.get("/v1/cases").json()}


def test_a_case_number_of_the_pattern_is_accepted(server: Server) -> None:
    with server.client("ca") as c:
        ok = c.post("/v1/cases", json={"number": "HL-2026_07.b"})
        assert ok.status_code == 201, ok.text
