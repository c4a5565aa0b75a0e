"""A notice tells a platform only what it needs: its own messages and addresses, in the name
of the organisation, wholly in the letter's language. It once listed every confirmed match
of the case (local paths like found/cropped.jpg), "confirmed by root", the victim's name,
and French and Korean letters were half English."""

from __future__ import annotations

import getpass
import json
import re
from pathlib import Path

import pytest

from rempart.samples import photo_like
from tests.cases.test_media_rules import web_client
from tests.cases.test_notices import confirmed_telegram_match, rempart
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases

ENGLISH = (
    "given by",
    "confirmed by",
    "the helpline",
    "posted",
    "fetched",
    "match m",
    "forwarded",
    "United States",
    "European Union",
    "distance",
    "link:",
)


def _two_places(case: Restored) -> tuple[str, str]:
    """A confirmed match in a Telegram export (`telegram_case`) and one in a local folder."""
    home, tg = case.path, str(case.value)
    local = home / "found"
    local.mkdir()
    photo_like(1, (320, 240)).rotate(90, expand=True).save(local / "cropped.png")
    rempart("scan", str(local), "--bank", "b")
    (item,) = json.loads(rempart("review", "list", "--format", "json"))
    rempart("review", "decide", item["ref"], "confirmed", "--reason", "her photo")
    return tg, str(item["ref"])


def test_a_notice_lists_only_its_platform_and_names_nobody(telegram_case: Restored) -> None:
    rempart_env = telegram_case.path
    tg, local = _two_places(telegram_case)
    text = rempart(
        "notice",
        "create",
        "--case",
        "C-7",
        "--platform",
        "telegram",
        "--organisation",
        "Helpline X",
    )
    assert tg in text and local not in text
    assert "cropped" not in text and str(rempart_env) not in text and "/" + "found" not in text
    assert "Test Person" not in text
    for account in {getpass.getuser(), "cw", "root"}:  # REMPART_USER is cw in these tests
        assert not re.search(rf"\b{re.escape(account)}\b", text), account
    assert "confirmed by a caseworker of Helpline X" in text
    out = rempart(
        "notice",
        "create",
        "--case",
        "C-7",
        "--platform",
        "telegram",
        "--match",
        tg,
        "--match",
        local,
        code=1,
    )
    assert f"not found on Telegram: {local}" in " ".join(out.split())
    listed = json.loads(rempart("notice", "list", "--format", "json"))
    assert [[i["match"] for i in n["items"]] for n in listed] == [[tg]]
    assert all("cropped" not in i["location"] for n in listed for i in n["items"])


def test_her_name_only_when_she_chose_it(rempart_env: Path, tmp_path: Path) -> None:
    consent = tmp_path / "named.json"
    consent.write_text(
        '{"given_by": "Test Person", "given_at": "2026-11-01", "purpose": "removal"}'
    )
    confirmed_telegram_match(rempart_env, consent)
    text = rempart("notice", "create", "--case", "C-7", "--platform", "telegram", "--name-her")
    assert "given by Test Person" in text
    audit = json.loads(rempart("audit", "list", "--format", "json"))
    assert [e["details"]["names_her"] for e in audit if e["action"] == "notice-create"] == [True]


@pytest.mark.parametrize("language", ["fr", "ko"])
def test_letters_are_wholly_in_their_language(telegram_case: Restored, language: str) -> None:
    text = rempart(
        "notice", "create", "--case", "C-7", "--platform", "telegram", "--language", language
    )
    body = text.split("\n", 2)[2]  # below the address and subject lines
    for phrase in ENGLISH:
        assert phrase not in body, (language, phrase, body)
    if language == "fr":
        assert "le service d'aide" in text and "confirmée par un intervenant" in text
        assert "États-Unis" in text and "délai de retrait de 48 heures" in text
    else:
        assert "상담 기관" in text and "미국" in text and "48 시간" in text


def test_the_web_form_ticks_only_the_platforms_matches(telegram_case: Restored) -> None:
    tg, local = _two_places(telegram_case)
    client, token = web_client("C-7")
    with client:
        page = client.get("/ui/cases/C-7").text
        assert re.search(rf'value="{tg}" checked', page)
        assert re.search(rf'value="{local}"[^>]*>', page)
        assert not re.search(rf'value="{local}" checked', page)
        assert '<option value="telegram" selected>' in page
        r = client.post(
            "/ui/cases/C-7/notices",
            data={"csrf": token, "platform": "telegram", "match": [tg, local]},
            follow_redirects=False,
        )
        assert r.status_code == 400 and "not found on Telegram" in r.text
        r = client.post(
            "/ui/cases/C-7/notices",
            data={"csrf": token, "platform": "telegram", "match": [tg]},
            follow_redirects=False,
        )
        assert r.status_code == 303
        letter = client.get(r.headers["location"]).text
        assert "org-a" in letter and "cropped" not in letter


def test_a_copy_seen_first_in_a_folder_then_on_telegram_is_ticked_for_telegram(
    rempart_env: Path, consent_file: Path
) -> None:
    from tests.sources.telegram_factory import chat_export

    hers = rempart_env / "hers"
    hers.mkdir()
    photo_like(1, (320, 240)).save(hers / "a.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(rempart_env / "s.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank",
        "import",
        "b",
        str(rempart_env / "s.json"),
        "--case",
        "C-7",
        "--consent",
        str(consent_file),
    )
    chat_export(rempart_env / "export", photo_seeds=(1, 2))
    local = rempart_env / "downloads"
    local.mkdir()
    (local / "saved.jpg").write_bytes(
        (rempart_env / "export" / "photos" / "photo_1_1.jpg").read_bytes()
    )
    rempart("scan", str(local), "--bank", "b")  # first seen in a local folder
    rempart("scan", str(rempart_env / "export"), "--bank", "b", code=3)  # then on Telegram
    (item,) = json.loads(rempart("review", "list", "--format", "json"))
    assert item["sightings"] == 2
    rempart("review", "decide", item["ref"], "confirmed", "--reason", "her photo")
    client, _ = web_client("C-7")
    with client:
        page = client.get("/ui/cases/C-7").text
    assert re.search(rf'value="{item["ref"]}" checked', page)
    text = rempart("notice", "create", "--case", "C-7", "--platform", "telegram")
    assert "https://t.me/c/555/2" in text and "saved.jpg" not in text and "downloads" not in text
