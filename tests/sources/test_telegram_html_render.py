"""A hostile chat name and caption from a Telegram HTML export (markup, event attributes,
terminal escapes) go through a real scan and come out as text everywhere they are shown:
`rempart review list`, the web UI's review and match pages (a real `rempart serve` over
loopback), and the evidence package's report.html. The HTML reader unescapes them to plain
strings; each renderer escapes them."""

from __future__ import annotations

import json
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from rempart.api import keys
from rempart.api.settings import ApiSettings
from rempart.cli import app
from rempart.samples import photo_like
from rempart.server import create_app
from rempart.store.db import Database
from tests.api.conftest import free_port
from tests.sources.telegram_html_writer import Chat, Msg, write_html_chat

runner = CliRunner()
CHAT = '<script>alert("chat")</script><img src=x onerror=alert(1)> Room \x1b[31mRED [/bold]'
CAPTION = "<b onmouseover=alert(2)>caption</b></textarea><svg onload=alert(3)>"
RAW = ("<script>", "<img src=x", "<svg onload", "<b onmouseover")


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    assert result.exit_code == code, result.output
    return result.output


def no_raw_markup(text: str) -> None:
    assert not [r for r in RAW if r in text], text[:2000]


@contextmanager
def serving(db_url: str, home: Path) -> Iterator[str]:
    """`rempart serve`'s app on a loopback port, in a thread of this process (real HTTP,
    without starting another Python)."""
    app_ = create_app(ApiSettings(db_url=db_url, home=home))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app_, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_hostile_names_from_an_html_export_are_shown_as_text(
    rempart_env: Path, consent_file: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMPART_WEB_COOKIE_SECURE", "0")  # plain HTTP on loopback
    hers = rempart_env / "hers"
    hers.mkdir()
    photo_like(1, (320, 240)).save(hers / "1.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(rempart_env / "sub.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank", "import", "b", str(rempart_env / "sub.json"), "--case", "C-H",
        "--consent", str(consent_file),
    )  # fmt: skip
    export = rempart_env / "found" / "export"
    (export / "photos").mkdir(parents=True)
    photo_like(1, (320, 240)).save(export / "photos" / "p.jpg", quality=80)
    msg = Msg(2, 1709294400, sender="<i>Sender</i>", text=CAPTION, photo="photos/p.jpg")
    write_html_chat(export, Chat(CHAT, [msg]))
    rempart("scan", str(export.parent), "--bank", "b")

    out = rempart("review", "list")
    assert "\x1b" not in out and "[/bold]" in out and 'alert("chat")' in out
    item = json.loads(rempart("review", "list", "--format", "json"))[0]
    assert item["provenance"]["chat"] == CHAT and item["provenance"]["caption"] == CAPTION
    assert item["provenance"]["format"] == "telegram-html"
    rempart("review", "decide", item["ref"], "confirmed", "--reason", "her photo")

    pkg = rempart_env / "e.zip"
    rempart("evidence", "export", item["ref"], "--out", str(pkg))
    with zipfile.ZipFile(pkg) as zf:
        report = zf.read("report.html").decode()
    no_raw_markup(report)
    assert "&lt;script&gt;alert(&quot;chat&quot;)&lt;/script&gt;" in report
    assert "&lt;svg onload=alert(3)&gt;" in report

    db = Database(db_url)
    with db.session() as s:
        key, _ = keys.create_key(s, "admin", None, label="admin")
    db.dispose()
    with serving(db_url, rempart_env / "home") as url, httpx.Client(base_url=url, timeout=30) as c:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/ui/login").text)
        assert token is not None
        r = c.post("/ui/login", data={"csrf": token.group(1), "key": key})
        assert r.status_code in (200, 303), r.text[:500]
        review = c.get("/ui/review", params={"status": "all"})
        assert review.status_code == 200 and item["ref"] in review.text
        no_raw_markup(review.text)
        match = c.get(f"/ui/matches/{item['ref']}")
        assert match.status_code == 200
        no_raw_markup(match.text)
        assert "&lt;script&gt;alert(&#34;chat&#34;)&lt;/script&gt;" in match.text
        assert "&lt;b onmouseover=alert(2)&gt;caption" in match.text
