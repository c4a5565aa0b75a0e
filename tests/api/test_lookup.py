"""The positive paths over real HTTP: hashing, lookups (one, batch of 500, file, HMA
shape), feedback, and the index kept current while serving."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
from PIL import Image

from rempart.samples import photo_like
from rempart.signals.image_hashes import hash_image_bytes
from tests.api.conftest import CONSENT, Server, World, build_world, item, jpeg, wait_for


def test_hash_a_file(server: Server, world: World) -> None:
    expected = hash_image_bytes(world.images[2], "x")
    with server.client("pa") as c:
        for r in (
            c.post("/v1/hash", files={"file": ("a.jpg", world.images[2], "image/jpeg")}),
            c.post("/v1/hash", content=world.images[2]),
        ):
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["pdq"] == expected.pdq.hex and body["md5"] == expected.md5
            assert body["sha256"] == expected.sha256 and body["media_type"] == "image"
            assert (body["width"], body["height"]) == (320, 240)


def test_lookup_hash_every_signal_type(server: Server, world: World) -> None:
    h = hash_image_bytes(world.images[3], "x")
    near = list(bytes.fromhex(h.pdq.hex))
    near[0] ^= 0b111  # 3 bits off: a near duplicate
    with server.client("pa") as c:
        for signal_type, value, distance in (
            ("pdq", h.pdq.hex, 0),
            ("pdq", bytes(near).hex(), 3),
            ("md5", h.md5, 0),
            ("video_md5", h.md5, 0),
            ("sha256", h.sha256, 0),
            ("pdq", h.pdq.hex.upper(), 0),
        ):
            r = c.get("/v1/lookup", params={"signal_type": signal_type, "signal": value})
            assert r.status_code == 200, r.text
            (m,) = r.json()["matches"]
            assert m["bank"] == "ncii" and m["distance"] == distance
        strict = c.get(
            "/v1/lookup", params={"signal_type": "pdq", "signal": bytes(near).hex(), "threshold": 2}
        )
        assert strict.json()["matches"] == []


def test_lookup_file_survives_rotation_and_reencoding(server: Server, world: World) -> None:
    rotated = io.BytesIO()
    Image.open(io.BytesIO(world.images[1])).rotate(90, expand=True).save(rotated, "PNG")
    smaller = jpeg(1, (240, 180), quality=60)
    with server.client("pa") as c:
        r = c.post("/v1/lookup/file", files={"file": ("r.png", rotated.getvalue())})
        assert r.status_code == 200, r.text
        (m,) = r.json()["matches"]
        assert m["signal"] == "pdq" and m["transform"] == "rotate90" and m["distance"] <= 31
        (m,) = c.post("/v1/lookup/file", content=smaller).json()["matches"]
        assert m["signal"] == "pdq" and m["bank_entry"] == 1
        (m,) = c.post("/v1/lookup/file", content=world.images[1]).json()["matches"]
        assert m["signal"] in ("sha256", "md5")
        other = jpeg(77)
        assert c.post("/v1/lookup/file", content=other).json()["matches"] == []


def test_batch_of_500(server: Server, world: World) -> None:
    known = [hash_image_bytes(world.images[s], "x") for s in (1, 2, 3)]
    queries = [{"signal_type": "pdq", "signal": secrets.token_hex(32)} for _ in range(497)]
    queries[10] = {"signal_type": "pdq", "signal": known[0].pdq.hex}
    queries[250] = {"signal_type": "md5", "signal": known[1].md5}
    queries[499 - 3] = {"signal_type": "sha256", "signal": known[2].sha256}
    queries += [{"signal_type": "pdq", "signal": known[2].pdq.hex}] * 3
    assert len(queries) == 500
    with server.client("pa") as c:
        r = c.post("/v1/lookup/batch", json={"queries": queries})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert len(results) == 500
        matched = {i for i, res in enumerate(results) if res["matches"]}
        assert matched == {10, 250, 496, 497, 498, 499}
        assert results[10]["matches"][0]["bank_entry"] == 1
        too_many = c.post("/v1/lookup/batch", json={"queries": queries * 3})
        assert too_many.status_code == 413


def test_hma_shaped_lookup(server: Server, world: World) -> None:
    h = hash_image_bytes(world.images[2], "x")
    with server.client("pa") as c:
        r = c.get("/m/lookup", params={"signal_type": "pdq", "signal": h.pdq.hex})
        assert r.status_code == 200
        assert r.json() == {"ncii": [{"bank_content_id": 2, "distance": "0"}]}
        assert (
            c.get(
                "/m/lookup", params={"signal_type": "pdq", "signal": h.pdq.hex, "banks": "other"}
            ).json()
            == {}
        )
        assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": "0" * 64}).json() == {}
        r = c.post("/m/lookup", files={"file": ("a.jpg", world.images[2])})
        assert r.status_code == 200
        body = r.json()
        assert body["md5"] == {"ncii": [{"bank_content_id": 2, "distance": "0"}]}
        assert body["pdq"]["ncii"][0]["bank_content_id"] == 2
        hashed = c.post("/h/hash", files={"file": ("a.jpg", world.images[2])}).json()
        assert hashed == {"pdq": h.pdq.hex, "md5": h.md5}


def test_feedback_recorded_and_seen_by_the_right_people(server: Server, world: World) -> None:
    h = hash_image_bytes(world.images[3], "x")
    with server.client("pa") as a:
        entry = a.get("/v1/lookup", params={"signal_type": "md5", "signal": h.md5}).json()[
            "matches"
        ][0]["bank_entry"]
        r = a.post(
            "/v1/feedback",
            json={"bank_entry": entry, "verdict": "removed", "content_ref": "post/123"},
        )
        assert r.status_code == 201, r.text
        r = a.post("/v1/feedback", json={"bank_entry": entry, "verdict": "false_positive"})
        assert r.status_code == 201
        mine = a.get("/v1/feedback").json()
        assert {f["verdict"] for f in mine} >= {"removed", "false_positive"}
        assert all(f["platform"] == "plat-a" and "case" not in f for f in mine)
    with server.client("pb") as b:
        assert all(f["platform"] == "plat-b" for f in b.get("/v1/feedback").json())
    with server.client("ca") as ca, server.client("cb") as cb:
        assert any(
            f["content_ref"] == "post/123" and f["case"] == "CASE-A"
            for f in ca.get("/v1/feedback").json()
        )
        assert all(f["case"] != "CASE-A" for f in cb.get("/v1/feedback").json())
    with server.client("victim") as v:
        status = v.post(
            "/v1/status", json={"case": "CASE-A", "secret": world.secrets["CASE-A"]}
        ).json()
        assert status["platform_reports"]["removed"] >= 1
    with server.client("admin") as admin:
        # the audit log names the platform's key
        out = subprocess.run(
            [sys.executable, "-m", "rempart", "audit", "list", "--format", "json"],
            env=world.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        entries = json.loads(out.stdout)
        fb = [e for e in entries if e["action"] == "platform-feedback"]
        assert fb and fb[-1]["actor"] == f"api:plat-a:{world.key_ids['pa']}"
        assert fb[-1]["case"] == "CASE-A"
        verify = subprocess.run(
            [sys.executable, "-m", "rempart", "audit", "verify"],
            env=world.env(),
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stderr  # one unbroken chain, head recorded
        assert admin.get("/v1/tenants").status_code == 200


def _matches(c: httpx.Client, pdq: str) -> list[dict[str, object]]:
    r = c.get("/v1/lookup", params={"signal_type": "pdq", "signal": pdq})
    assert r.status_code == 200, r.text
    return r.json()["matches"]  # type: ignore[no-any-return]


def test_added_through_the_api_is_matchable_and_withdrawn_gone(server: Server) -> None:
    fresh = hash_image_bytes(jpeg(501), "x")
    with server.client("ca") as cw, server.client("pa") as pa:
        assert _matches(pa, fresh.pdq.hex) == []
        r = cw.post(
            "/v1/banks/ncii/entries",
            json={
                "case": "CASE-A",
                "label": "api",
                "items": [
                    {
                        "pdq": fresh.pdq.hex,
                        "pdq_quality": fresh.pdq.quality,
                        "md5": fresh.md5,
                        "sha256": fresh.sha256,
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        (entry,) = r.json()["bank_entries"]
        took = wait_for(lambda: bool(_matches(pa, fresh.pdq.hex)), seconds=5)
        assert took < 2
        assert _matches(pa, fresh.pdq.hex)[0]["bank_entry"] == entry
        r = cw.delete(f"/v1/banks/ncii/entries/{entry}")
        assert r.status_code == 200, r.text
        assert _matches(pa, fresh.pdq.hex) == []
        assert (
            pa.get("/v1/lookup", params={"signal_type": "md5", "signal": fresh.md5}).json()[
                "matches"
            ]
            == []
        )


def test_a_new_case_through_the_api_belongs_to_her_organisation(server: Server) -> None:
    with server.client("cb") as cb, server.client("ca") as ca:
        r = cb.post("/v1/cases", json={"number": "CASE-B2"})
        assert r.status_code == 201 and r.json()["secret"]
        r = cb.post(
            "/v1/banks/other/entries",
            json={"case": "CASE-B2", "consent": CONSENT, "items": [item(jpeg(601)).to_json()]},
        )
        assert r.status_code == 201, r.text
        assert "CASE-B2" in {c["case"] for c in cb.get("/v1/cases").json()}
        assert ca.get("/v1/cases/CASE-B2").status_code == 404


def test_changes_by_another_process_are_seen_within_seconds(server: Server, world: World) -> None:
    """`rempart bank import` and `rempart case withdraw --item` in another process while the
    server runs: the server's index follows without a restart or full rebuild."""
    data = io.BytesIO()
    photo_like(701, (320, 240)).save(data, "JPEG", quality=90)
    h = hash_image_bytes(data.getvalue(), "x")
    sub = world.root / "cli-sub.json"
    sub.write_text(
        json.dumps(
            {
                "format": "rempart-hash-submission",
                "version": 1,
                "items": [item(data.getvalue()).to_json()],
                "consent": CONSENT,
            }
        )
    )
    with server.client("pa") as pa, server.client("ca") as ca:
        assert _matches(pa, h.pdq.hex) == []
        subprocess.run(
            [
                sys.executable,
                "-m",
                "rempart",
                "bank",
                "import",
                "ncii",
                str(sub),
                "--case",
                "CASE-A",
            ],
            env=world.env(),
            check=True,
            capture_output=True,
        )
        took = wait_for(lambda: bool(_matches(pa, h.pdq.hex)), seconds=10)
        assert took < 5
        entry = _matches(ca, h.pdq.hex)[0]["bank_entry"]
        subprocess.run(
            [sys.executable, "-m", "rempart", "case", "withdraw", "CASE-A", "--item", str(entry)],
            env=world.env(),
            check=True,
            capture_output=True,
        )
        took = wait_for(lambda: not _matches(pa, h.pdq.hex), seconds=10)
        assert took < 5
        assert httpx.get(server.url + "/ready").json()["ready"] is True


def test_two_workers_follow_each_other(tmp_path: Path) -> None:
    """With --workers 2, an entry added through one worker is matched by both (the other
    reloads from the database token), and a withdrawn one is gone from both."""
    world = build_world(tmp_path)
    srv = Server(world, workers=2)
    try:
        fresh = hash_image_bytes(jpeg(801), "x")

        def everywhere(want: bool) -> bool:  # fresh connections reach either worker
            return all(bool(_matches(srv.client("pa"), fresh.pdq.hex)) == want for _ in range(12))

        with srv.client("ca") as cw:
            r = cw.post(
                "/v1/banks/ncii/entries",
                json={"case": "CASE-A", "items": [{"pdq": fresh.pdq.hex, "md5": fresh.md5}]},
            )
            assert r.status_code == 201, r.text
            assert wait_for(lambda: everywhere(True), seconds=10) < 5
            (entry,) = r.json()["bank_entries"]
            assert cw.delete(f"/v1/banks/ncii/entries/{entry}").status_code == 200
            assert wait_for(lambda: everywhere(False), seconds=10) < 5
    finally:
        srv.stop()


def test_case_withdrawn_through_the_api(server: Server) -> None:
    h = hash_image_bytes(jpeg(901), "x")
    with server.client("cb") as cb, server.client("ca") as ca, server.client("pb") as pb:
        r = cb.post(
            "/v1/banks/other/entries",
            json={"case": "CASE-W", "consent": CONSENT, "items": [item(jpeg(901)).to_json()]},
        )
        assert r.status_code == 201, r.text
        assert _matches(pb, h.pdq.hex)
        assert ca.post("/v1/cases/CASE-W/withdraw").status_code == 404  # not her case
        r = cb.post("/v1/cases/CASE-W/withdraw")
        assert r.status_code == 200 and r.json()["indexed_hashes_removed"] == 1
        assert _matches(pb, h.pdq.hex) == []
        assert (
            pb.get("/v1/lookup", params={"signal_type": "md5", "signal": h.md5}).json()["matches"]
            == []
        )
        assert cb.get("/v1/cases/CASE-W").json()["status"] == "withdrawn"
        r = cb.post(
            "/v1/banks/other/entries",
            json={"case": "CASE-W", "consent": CONSENT, "items": [item(jpeg(902)).to_json()]},
        )
        assert r.status_code == 400 and "withdrawn" in r.json()["detail"]


def test_bank_threshold_change_applies_to_lookups(server: Server, world: World) -> None:
    h = hash_image_bytes(world.images[3], "x")
    near = list(bytes.fromhex(h.pdq.hex))
    near[5] ^= 0xFF  # 8 bits off
    near_hex = bytes(near).hex()
    with server.client("admin") as admin, server.client("pa") as pa:
        assert _matches(pa, near_hex)
        r = admin.patch("/v1/banks/ncii", json={"pdq_threshold": 4})
        assert r.status_code == 200 and r.json()["pdq_threshold"] == 4
        assert _matches(pa, near_hex) == []
        assert _matches(pa, h.pdq.hex)
        assert pa.patch("/v1/banks/ncii", json={"pdq_threshold": 63}).status_code == 403
        assert admin.patch("/v1/banks/ncii", json={"pdq_threshold": 64}).status_code == 422
        assert admin.patch("/v1/banks/ncii", json={"pdq_threshold": 31}).status_code == 200
        assert _matches(pa, near_hex)
