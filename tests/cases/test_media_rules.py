"""The rules on a match's media hold the same in the CLI and in the web UI: a possible minor
is never revealed by either (the CLI once wrote the clear picture), its media is never kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from rempart.api import keys
from rempart.api.settings import ApiSettings
from rempart.cases import media_rules
from rempart.cases.review import ReviewItem
from rempart.config import load_settings
from rempart.server import create_app  # the API with the web UI
from rempart.store import repository
from rempart.store.db import Database
from rempart.store.models import CaseOwner
from tests.cases.test_review import rempart, scanned_case


def _item(minor: bool) -> ReviewItem:
    return ReviewItem(
        "m1", "confirmed", "C-9", "/nowhere.jpg", "pdq", 4.0, {}, {}, None, None, minor
    )


def test_the_rules_in_one_place() -> None:
    with pytest.raises(media_rules.MediaRefused) as refused:
        media_rules.check_reveal(_item(True), env={})
    assert refused.value.reason == "minor"
    media_rules.check_reveal(_item(True), env={"REMPART_CSAM_AUTHORISED": "yes"})
    media_rules.check_reveal(_item(False), env={})
    assert media_rules.may_preserve(_item(False), env={}) == "evidence-mode"
    assert (
        media_rules.may_preserve(_item(True), env={"REMPART_EVIDENCE_MEDIA": "allowed"}) == "minor"
    )
    assert media_rules.may_preserve(_item(False), env={"REMPART_EVIDENCE_MEDIA": "allowed"}) is None
    with pytest.raises(media_rules.MediaRefused):
        media_rules.check_package_media(_item(True), env={"REMPART_EVIDENCE_MEDIA": "allowed"})
    with pytest.raises(media_rules.MediaRefused):
        media_rules.check_package_media(_item(False), env={})


def web_client(case_number: str) -> tuple[TestClient, str]:
    """A signed-in caseworker of the organisation that owns the case, on the web UI of the
    test's database, and her CSRF token."""
    settings = load_settings()
    db = Database(settings.db_url)
    with db.session() as s:
        key, _ = keys.create_key(s, "caseworker", "org-a", label="ca")
        case = repository.get_case(s, case_number)
        assert case is not None
        s.add(CaseOwner(case_id=case.id, tenant_id=keys.get_tenant(s, "org-a").id))
    db.dispose()
    app = create_app(ApiSettings(db_url=settings.db_url, home=settings.home))
    client = TestClient(app, base_url="https://testserver")
    page = client.get("/ui/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    r = client.post("/ui/login", data={"csrf": token.group(1), "key": key}, follow_redirects=False)
    assert r.status_code == 303
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/").text)
    assert token is not None
    return client, token.group(1)


def test_a_possible_minor_is_revealed_by_neither_front_end(
    rempart_env: Path, consent_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REMPART_CSAM_AUTHORISED", raising=False)
    scanned_case(rempart_env, consent_file)
    ref = json.loads(rempart("review", "list", "--format", "json"))[0]["ref"]
    rempart("review", "flag-minor", ref, "--reason", "looks young")
    clear = rempart_env / "clear.png"
    out = rempart("review", "preview", ref, "--reveal", "--out", str(clear), code=1)
    assert "minor" in out and "never revealed" in out
    assert not clear.exists()
    blurred = rempart_env / "blurred.png"
    rempart("review", "preview", ref, "--out", str(blurred))  # triage still works
    assert Image.open(blurred).size[0] <= 320
    reveals = [
        e
        for e in json.loads(rempart("audit", "list", "--format", "json"))
        if e["action"] == "reveal"
    ]
    assert reveals == []
    # Confirmed in evidence mode: the media of a possible minor is not kept.
    monkeypatch.setenv("REMPART_EVIDENCE_MEDIA", "allowed")
    rempart("review", "decide", ref, "confirmed", "--reason", "hers")
    assert not list((rempart_env / "home").glob("evidence/*.bin"))
    rempart(
        "evidence", "export", ref, "--out", str(rempart_env / "e.zip"), "--include-media", code=1
    )
    # The web UI refuses the same, from the same rule.
    client, token = web_client("C-9")
    with client:
        r = client.post(f"/ui/matches/{ref}/reveal", data={"csrf": token})
        assert r.status_code == 403 and "data:image" not in r.text
    # An authorised organisation may see it, in both, and it is logged.
    monkeypatch.setenv("REMPART_CSAM_AUTHORISED", "yes")
    rempart("review", "preview", ref, "--reveal", "--out", str(clear))
    assert clear.exists()
    with client:
        r = client.post(f"/ui/matches/{ref}/reveal", data={"csrf": token})
        assert r.status_code == 200 and "data:image/png;base64," in r.text
