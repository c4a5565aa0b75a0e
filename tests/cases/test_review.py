"""The review queue through the CLI: pending matches, decisions with reasons, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases

runner = CliRunner()


def rempart(*args: str, code: int = 0, user: str = "reviewer-a") -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", "REMPART_USER": user})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def scanned_case(home: Path, consent: Path) -> None:
    hers, found = home / "hers", home / "found"
    hers.mkdir()
    found.mkdir()
    for s in (1, 2):
        photo_like(s, (320, 240)).save(hers / f"{s}.jpg", quality=90)
        photo_like(s, (320, 240)).rotate(90, expand=True).save(found / f"copy{s}.png")
    photo_like(9, (320, 240)).save(found / "other.jpg")
    rempart("hash", str(hers), "--out", str(home / "s.json"))
    rempart("bank", "create", "b")
    rempart("bank", "import", "b", str(home / "s.json"), "--case", "C-9", "--consent", str(consent))
    rempart("scan", str(found), "--bank", "b")


def test_pending_matches_are_decided_with_reasons(review_case: Restored) -> None:
    # review_case: scanned_case's state, made once (tests/cases/conftest.py)
    pending = json.loads(rempart("review", "list", "--format", "json"))
    assert len(pending) == 2 and {p["status"] for p in pending} == {"pending"}
    first, second = (p["ref"] for p in pending)
    rempart("review", "decide", first, "confirmed", "--reason", "same photo, rotated")
    out = rempart("review", "decide", second, "not-her", code=1)
    assert "reason" in out  # a decision needs its reason
    rempart(
        "review", "decide", second, "not-her", "--reason", "different person", user="reviewer-b"
    )
    assert json.loads(rempart("review", "list", "--format", "json")) == []
    done = {
        p["ref"]: p
        for p in json.loads(rempart("review", "list", "--status", "all", "--format", "json"))
    }
    assert done[first]["status"] == "confirmed" and done[first]["reviewed_by"] == "reviewer-a"
    assert done[second]["reviewed_by"] == "reviewer-b"
    reviews = [
        e
        for e in json.loads(rempart("audit", "list", "--format", "json"))
        if e["action"] == "review"
    ]
    assert [(e["actor"], e["details"]["decision"]) for e in reviews] == [
        ("reviewer-a", "confirmed"),
        ("reviewer-b", "not-her"),
    ]
    assert all(e["case"] == "C-9" for e in reviews)
    rempart("review", "decide", "m999", "confirmed", "--reason", "x", code=1)
    rempart("review", "decide", "x1", "confirmed", "--reason", "x", code=1)
    rempart("review", "decide", first, "maybe", "--reason", "x", code=1)


def test_source_filter_finds_non_ascii_places(rempart_env: Path, consent_file: Path) -> None:
    """A room or folder named in Korean or French is found by part of its name, in any case
    (both databases lowercase only ASCII in SQL: the filter must not depend on it)."""
    home = rempart_env
    hers = home / "hers"
    hers.mkdir()
    photo_like(3, (320, 240)).save(hers / "3.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(home / "s.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank", "import", "b", str(home / "s.json"), "--case", "C-3", "--consent", str(consent_file)
    )
    for name, quality in (("Salon Élodie", 80), ("카파 방", 70)):  # two different files
        found = home / name
        found.mkdir()
        photo_like(3, (320, 240)).save(found / "copy.jpg", quality=quality)
        rempart("scan", str(found), "--bank", "b")

    def where(text: str) -> list[str]:
        rows = json.loads(
            rempart("review", "list", "--status", "all", "--source", text, "--format", "json")
        )
        return sorted(Path(r["file"]).parent.name for r in rows)

    assert where("카파") == ["카파 방"]
    for typed in ("Élodie", "élodie", "ÉLODIE", "salon é"):
        assert where(typed) == ["Salon Élodie"], typed
    assert where("elodie") == []  # no accent folding: a different word
