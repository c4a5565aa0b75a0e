"""Hostile text from exports and file names reaches the terminal escaped (issue 19 M2): a
chat name carrying ANSI/OSC-8 escape sequences and rich markup, and a file named like rich
markup, are printed literally by `scan`, `review list` and `rooms`, never as escapes or
styles, and never crash them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from rempart.textsafe import plain, plain_lines, safe
from tests.sources.telegram_factory import chat_export

runner = CliRunner()

HOSTILE_CHAT = (
    "Room \x1b[2J\x1b[H\x1b[31mFAKE\x1b[0m "
    "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\ [/bold] \u202egnp.exe\x07 end"
)


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    assert result.exit_code == code, result.output
    return result.output


def no_escapes(text: str) -> None:
    bad = [c for c in text if c in "\x1b\x07\x9b\x9d\u202e" or (ord(c) < 32 and c not in "\n")]
    assert not bad, f"control characters printed: {bad!r}"


def test_safe_strips_sequences_and_escapes_markup() -> None:
    assert plain(HOSTILE_CHAT) == "Room FAKE link [/bold] gnp.exe end"
    assert safe("[reverse]EVIL.jpg") == "\\[reverse]EVIL.jpg"
    assert safe("a\tb\nc\u2028d") == "a b c d"
    assert safe("Ordinary name, 한국어") == "Ordinary name, 한국어"
    assert plain("\x9b31mred\x9dtitle\x9c.") == "red."
    assert plain_lines("line 1\x1b[2J\r\nline\t2\n") == "line 1\nline 2\n"


@pytest.fixture
def hostile_scan(rempart_env: Path, consent_file: Path) -> Path:
    hers = rempart_env / "hers"
    hers.mkdir()
    for seed in (1, 5):
        photo_like(seed, (320, 240)).save(hers / f"{seed}.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(rempart_env / "sub.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank",
        "import",
        "b",
        str(rempart_env / "sub.json"),
        "--case",
        "CASE-H",
        "--consent",
        str(consent_file),
    )
    found = rempart_env / "found"
    export = found / "export"
    chat_export(export, name=HOSTILE_CHAT, photo_seeds=(1, 2))  # message 2: her photo 1
    photo_like(5, (320, 240)).save(found / "[reverse]EVIL.jpg", quality=85)
    return found


def test_hostile_names_are_printed_literally(rempart_env: Path, hostile_scan: Path) -> None:
    out = rempart(
        "scan", str(hostile_scan), "--bank", "b", "--report", str(rempart_env / "r.json"), code=3
    )
    no_escapes(out)
    assert "[reverse]EVIL.jpg" in out
    report = json.loads((rempart_env / "r.json").read_text())
    assert report["summary"]["matches"] >= 2

    out = rempart("review", "list")
    no_escapes(out)
    assert "[reverse]EVIL.jpg" in out  # shown literally, not styled away
    assert "[/bold]" in out and "FAKE" in out and "evil.example" not in out

    ref = json.loads(rempart("review", "list", "--format", "json"))[0]["ref"]
    out = rempart("review", "decide", ref, "unsure", "--reason", "[/bold]\x1b[2J odd")
    no_escapes(out)
    assert "[/bold]" in out

    out = rempart("rooms")
    no_escapes(out)
    assert "[/bold]" in out and "Room FAKE link" in out

    out = rempart("rooms", "--format", "json")
    assert "\x1b" not in out  # JSON escapes control characters
