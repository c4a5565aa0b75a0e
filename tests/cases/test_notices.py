"""Takedown notices from the data files, in three languages, and their tracking."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cases import notices
from rempart.cli import app
from rempart.samples import photo_like
from rempart.store.db import Database
from rempart.store.models import utcnow
from tests.postgres import execute
from tests.sources.telegram_factory import chat_export
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases
runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", "REMPART_USER": "cw"})
    assert result.exit_code == code, result.output
    return result.output


def confirmed_telegram_match(home: Path, consent: Path) -> str:
    hers = home / "hers"
    hers.mkdir()
    photo_like(1, (320, 240)).save(hers / "a.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(home / "s.json"))
    rempart("bank", "create", "b")
    rempart("bank", "import", "b", str(home / "s.json"), "--case", "C-7", "--consent", str(consent))
    chat_export(home / "export", photo_seeds=(1, 2))
    rempart("scan", str(home / "export"), "--bank", "b", code=3)
    (item,) = json.loads(rempart("review", "list", "--format", "json"))
    rempart("review", "decide", item["ref"], "confirmed", "--reason", "her photo")
    return str(item["ref"])


def test_notice_in_three_languages_cites_the_rules(telegram_case: Restored) -> None:
    ref = telegram_case.value
    en = rempart(
        "notice",
        "create",
        "--case",
        "C-7",
        "--platform",
        "telegram",
        "--organisation",
        "Helpline X",
    )
    assert "Telegram chat 'Room A'" in en and "message 2" in en and ref in en
    assert "Article 16 of Regulation (EU) 2022/2065" in en and "TAKE IT DOWN Act" in en
    assert "48-hour removal deadline" in en and "given by the person concerned" in en
    assert "Test Person" not in en  # her name only if she chose it (see test_notice_privacy)
    assert "https://t.me/c/555/2" in en  # the message's link
    assert "Helpline X" in en and "not attached" in en
    fr = rempart("notice", "create", "--case", "C-7", "--platform", "telegram", "--language", "fr")
    assert "Demande de retrait" in fr and "règlement (UE) 2022/2065" in fr
    ko = rempart("notice", "create", "--case", "C-7", "--platform", "telegram", "--language", "ko")
    assert "삭제 요청" in ko and "디지털서비스법" in ko
    listed = json.loads(rempart("notice", "list", "--case", "C-7", "--format", "json"))
    assert [n["status"] for n in listed] == ["draft"] * 3


def test_refusals(telegram_case: Restored) -> None:
    assert "no platform 'myspace'" in rempart(
        "notice", "create", "--case", "C-7", "--platform", "myspace", code=1
    )
    assert "no notice template in language 'de'" in rempart(
        "notice", "create", "--case", "C-7", "--platform", "telegram", "--language", "de", code=1
    )
    assert "no confirmed match on X" in rempart(
        "notice", "create", "--case", "C-7", "--platform", "x", code=1
    )
    execute(os.environ["REMPART_DB"], "update consents set withdrawn_at = '2026-11-01 00:00:00'")
    out = rempart("notice", "create", "--case", "C-7", "--platform", "telegram", code=1)
    assert "no active consent record" in out
    assert json.loads(rempart("notice", "list", "--format", "json")) == []  # nothing half-made


def test_tracking_renotice_and_removal_time(telegram_case: Restored) -> None:
    rempart("notice", "create", "--case", "C-7", "--platform", "telegram")
    rempart("notice", "mark", "1", "sent")
    db = Database(os.environ["REMPART_DB"])
    assert notices.due(db) == []
    later = notices.due(db, utcnow() + timedelta(hours=25))
    assert [n.id for n in later] == [1]  # due again after 24 h without removal
    rempart("notice", "mark", "1", "sent")
    assert json.loads(rempart("notice", "list", "--format", "json"))[0]["times_sent"] == 2
    notices.mark(db, 1, "removed", at=utcnow() + timedelta(hours=30))
    assert notices.due(db, utcnow() + timedelta(days=5)) == []
    times = notices.removal_times(db)
    assert list(times) == ["telegram"] and 29.5 < times["telegram"][0] < 30.5
    assert "nothing to send again" in rempart("notice", "mark", "1", "sent", code=1)
    rempart("notice", "mark", "1", "flying", code=1)
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert actions.count("notice-status") == 3 and "notice-create" in actions


def test_an_organisation_edits_its_own_data_files(telegram_case: Restored) -> None:
    rempart_env = telegram_case.path
    own = rempart_env / "home" / "notices"
    shutil.copytree(Path(str(resources.files("rempart") / "data" / "notices")), own)
    text = (
        (own / "platforms.toml")
        .read_text()
        .replace('name = "Telegram"', 'name = "Telegram (our contact)"')
    )
    (own / "platforms.toml").write_text(text)
    out = rempart("notice", "create", "--case", "C-7", "--platform", "telegram")
    assert "Telegram (our contact)" in out
    (own / "laws.toml").write_text("[US\nbroken")
    assert "cannot read the notice data" in rempart(
        "notice", "create", "--case", "C-7", "--platform", "telegram", code=1
    )


def test_content_that_comes_back_reopens_the_case(telegram_case: Restored) -> None:
    rempart_env = telegram_case.path
    rempart("notice", "create", "--case", "C-7", "--platform", "telegram")
    rempart("notice", "mark", "1", "sent")
    rempart("notice", "mark", "1", "removed")
    rempart("case", "set-status", "C-7", "monitoring", "--note", "removed")
    # the same picture is posted again, elsewhere
    again = rempart_env / "again"
    again.mkdir()
    photo_like(1, (320, 240)).save(again / "reposted.jpg", quality=70)
    out = " ".join(rempart("scan", str(again), "--bank", "b").split())
    assert "came back" in out
    view = json.loads(rempart("case", "show", "C-7", "--format", "json"))
    assert view["status"] == "reviewing" and "content came back" in view["history"][-1]["note"]
    pending = json.loads(rempart("review", "list", "--format", "json"))
    assert len(pending) == 1 and pending[0]["details"]["returned_after_removal"] is True
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert "content-returned" in actions


def test_report_with_charts(telegram_case: Restored) -> None:
    rempart_env = telegram_case.path
    rempart("notice", "create", "--case", "C-7", "--platform", "telegram")
    db = Database(os.environ["REMPART_DB"])
    notices.mark(db, 1, "sent", at=utcnow() - timedelta(hours=10))
    notices.mark(db, 1, "removed")
    out_dir = rempart_env / "report"
    rempart("report", "--out", str(out_dir))
    stats = json.loads((out_dir / "stats.json").read_text())
    tg = stats["platforms"]["telegram"]
    assert tg["removal_rate"] == 1.0 and 9.5 < tg["median_hours_to_removal"] < 10.5
    assert sum(stats["matches_per_day"].values()) == 1 and stats["review"] == {"confirmed": 1}
    for png in ("matches_over_time.png", "platforms.png"):
        assert (out_dir / png).read_bytes().startswith(b"\x89PNG")
    assert "telegram" in (out_dir / "report.html").read_text()
    rempart("report", "--out", str(rempart_env / "r2"), "--case", "C-7")


def test_possible_minor_is_prioritised_routed_and_kept_out_of_packages(
    telegram_case: Restored,
) -> None:
    rempart_env, ref = telegram_case.path, telegram_case.value
    rempart("review", "flag-minor", ref, code=1)  # a reason is required
    rempart("review", "flag-minor", ref, "--reason", "looks under 18")
    listed = json.loads(rempart("review", "list", "--status", "all", "--format", "json"))
    assert listed[0]["ref"] == ref and listed[0]["possible_minor"] is True
    out = " ".join(
        rempart(
            "notice",
            "create",
            "--case",
            "C-7",
            "--platform",
            "telegram",
            "--out",
            str(rempart_env / "n.txt"),
        ).split()
    )
    assert "Possible minor" in out and "NCMEC" in out and "INHOPE" in out
    pkg = str(rempart_env / "p.zip")
    result = runner.invoke(
        app,
        ["evidence", "export", ref, "--out", pkg, "--include-media"],
        env={"REMPART_EVIDENCE_MEDIA": "allowed"},
    )
    assert result.exit_code == 1 and "may show a minor" in " ".join(result.output.split())
    rempart("evidence", "export", ref, "--out", pkg)  # without media it is allowed
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert "flag-possible-minor" in actions
