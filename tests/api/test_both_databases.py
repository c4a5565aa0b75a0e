"""The API's main paths on SQLite and on PostgreSQL (a real server, tests/postgres.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rempart.api.app import create_app
from rempart.api.settings import ApiSettings
from rempart.signals.image_hashes import hash_image_bytes
from tests.api.conftest import CONSENT, build_world, item, jpeg, wait_for


@pytest.mark.both_databases
def test_api_on_both_databases(db_url: str, tmp_path: Path) -> None:
    world = build_world(tmp_path, db_url)
    settings = ApiSettings(db_url=world.db_url, home=world.home, index_poll_s=0.1)

    def h(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {world.keys[who]}"}

    known = hash_image_bytes(world.images[1], "x")
    fresh = hash_image_bytes(jpeg(1001), "x")
    with TestClient(create_app(settings)) as c:
        wait_for(lambda: c.get("/ready").status_code == 200)
        r = c.get(
            "/v1/lookup", params={"signal_type": "pdq", "signal": known.pdq.hex}, headers=h("pa")
        )
        assert r.json()["matches"][0]["bank"] == "ncii"
        assert (
            c.get(
                "/v1/lookup", params={"signal_type": "md5", "signal": known.md5}, headers=h("pb")
            ).json()["matches"]
            == []
        )
        batch = c.post(
            "/v1/lookup/batch",
            headers=h("pa"),
            json={
                "queries": [
                    {"signal_type": "sha256", "signal": known.sha256},
                    {"signal_type": "pdq", "signal": "0" * 64},
                ]
            },
        ).json()["results"]
        assert [bool(x["matches"]) for x in batch] == [True, False]
        r = c.post(
            "/v1/banks/ncii/entries",
            headers=h("ca"),
            json={"case": "CASE-NEW", "consent": CONSENT, "items": [item(jpeg(1001)).to_json()]},
        )
        assert r.status_code == 201, r.text
        (entry,) = r.json()["bank_entries"]
        found = c.get(
            "/v1/lookup", params={"signal_type": "pdq", "signal": fresh.pdq.hex}, headers=h("pa")
        ).json()["matches"]
        assert [m["bank_entry"] for m in found] == [entry]
        assert (
            c.post(
                "/v1/feedback", headers=h("pa"), json={"bank_entry": entry, "verdict": "removed"}
            ).status_code
            == 201
        )
        assert c.get("/v1/cases/CASE-NEW", headers=h("cb")).status_code == 404
        assert c.delete(f"/v1/banks/ncii/entries/{entry}", headers=h("ca")).status_code == 200
        assert (
            c.get(
                "/v1/lookup",
                params={"signal_type": "pdq", "signal": fresh.pdq.hex},
                headers=h("pa"),
            ).json()["matches"]
            == []
        )
        ok = c.post(
            "/v1/status",
            headers=h("victim"),
            json={"case": "CASE-A", "secret": world.secrets["CASE-A"]},
        )
        assert ok.status_code == 200
        assert (
            c.post(
                "/v1/status", headers=h("victim"), json={"case": "CASE-A", "secret": "WRONG-00000"}
            ).status_code
            == 403
        )
        queries = c.get("/v1/queries", headers=h("pa")).json()
        assert queries and all(q["signal"] != known.md5 for q in queries)  # pb's query
        assert c.delete(f"/v1/keys/{world.key_ids['pb']}", headers=h("admin")).status_code == 200
        assert c.get("/v1/banks", headers=h("pb")).status_code == 401
