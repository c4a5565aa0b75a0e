"""URL fetching against a real HTTP server on loopback (allowed explicitly in these tests)."""

from __future__ import annotations

import io
import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rempart.samples import photo_like
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.urls import FetchOptions, iter_urls, read_url_list


def jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    photo_like(seed, (200, 150)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(
        self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path
        if path == "/photo.jpg":
            self._send(200, jpeg(1), "image/jpeg")
        elif path == "/redirect":
            self._send(302, b"", "text/plain", {"Location": "/photo.jpg"})
        elif path == "/to-private":
            self._send(302, b"", "text/plain", {"Location": "http://10.20.30.40/x.jpg"})
        elif path == "/to-metadata":
            self._send(302, b"", "text/plain", {"Location": "http://169.254.169.254/latest"})
        elif path == "/loop":
            self._send(302, b"", "text/plain", {"Location": "/loop"})
        elif path == "/page.html":
            self._send(200, b"<html>hello</html>", "text/html")
        elif path == "/fake.jpg":
            self._send(200, b"not really a picture", "image/jpeg")
        elif path == "/missing.jpg":
            self._send(404, b"no", "text/plain")
        elif path == "/huge-announced.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(10 * 1024**3))
            self.end_headers()
            self.wfile.write(b"\xff\xd8\xff" + bytes(1000))
        elif path == "/endless.jpg":  # no length, never ends
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            try:
                self.wfile.write(b"\xff\xd8\xff")
                while True:
                    self.wfile.write(bytes(65536))
            except OSError:
                pass
        elif path == "/slow.jpg":  # a byte every 0.2 s
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"\x00")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        else:
            self._send(404, b"", "text/plain")


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


LOOPBACK = FetchOptions(
    allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),),
    max_bytes=5 * 1024 * 1024,
    deadline=3.0,
    read_timeout=2.0,
)


def fetch_all(urls: list[str], options: FetchOptions = LOOPBACK) -> dict[str, object]:
    return {item.locator: item for item in iter_urls(urls, options)}


def test_media_fetched_with_redirects_and_provenance(server: str) -> None:
    got = fetch_all([f"{server}/photo.jpg", f"{server}/redirect"])
    direct, redirected = got[f"{server}/photo.jpg"], got[f"{server}/redirect"]
    assert isinstance(direct, MediaRef) and direct.data == jpeg(1)
    assert isinstance(redirected, MediaRef) and redirected.data == jpeg(1)
    assert redirected.provenance["final_url"] == f"{server}/photo.jpg"
    assert redirected.provenance["content_type"] == "image/jpeg"


def test_loopback_refused_unless_allowed(server: str) -> None:
    item = fetch_all([f"{server}/photo.jpg"], FetchOptions())[f"{server}/photo.jpg"]
    assert isinstance(item, SourceProblem) and item.reason == "private-address"
    item = fetch_all(["http://localhost:1/x.jpg"], FetchOptions())["http://localhost:1/x.jpg"]
    assert isinstance(item, SourceProblem) and item.reason == "private-address"


def test_hostile_answers_are_refused_and_named(server: str) -> None:
    cases = {
        "/to-private": "private-address",
        "/to-metadata": "private-address",
        "/loop": "too-many-redirects",
        "/page.html": "not-media",
        "/fake.jpg": "not-media",
        "/missing.jpg": "http-error",
        "/huge-announced.jpg": "too-large",
        "/endless.jpg": "too-large",
        "/slow.jpg": "timeout",
    }
    start = time.monotonic()
    got = fetch_all([server + p for p in cases])
    assert time.monotonic() - start < 20
    for path, reason in cases.items():
        item = got[server + path]
        assert isinstance(item, SourceProblem), path
        assert item.reason == reason, (path, item.detail)
        assert server + path in item.detail


def test_url_list_file(tmp_path: Path) -> None:
    f = tmp_path / "links.txt"
    f.write_text("# found in the room\nhttps://example.org/a.jpg\n\nftp://x/y\nnot a url\n")
    urls, problems = read_url_list(f)
    assert urls == ["https://example.org/a.jpg"]
    assert [p.reason for p in problems] == ["bad-url", "bad-url"] and "line 4" in problems[0].detail


def test_the_address_actually_connected_is_checked(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the name check is fooled (DNS answer changed between check and connect), the peer
    address of the open connection still refuses it before the body is read."""
    import rempart.sources.urls as urls_mod

    monkeypatch.setattr(urls_mod, "check_host", lambda url, options: None)
    item = fetch_all([f"{server}/photo.jpg"], FetchOptions())[f"{server}/photo.jpg"]
    assert isinstance(item, SourceProblem) and item.reason == "private-address"
    assert "connected to 127.0.0.1" in item.detail


def test_scan_urls_through_the_cli(server: str, rempart_env: Path, consent_file: Path) -> None:
    import json

    from typer.testing import CliRunner

    from rempart.cli import app

    runner = CliRunner()
    hers = rempart_env / "hers"
    hers.mkdir()
    (hers / "a.jpg").write_bytes(jpeg(1))
    for args in (
        ["hash", str(hers), "--out", str(rempart_env / "s.json")],
        ["bank", "create", "b"],
        [
            "bank",
            "import",
            "b",
            str(rempart_env / "s.json"),
            "--case",
            "C",
            "--consent",
            str(consent_file),
        ],
    ):
        assert runner.invoke(app, args).exit_code == 0
    links = rempart_env / "links.txt"
    links.write_text(f"{server}/redirect\n{server}/page.html\n")
    report = rempart_env / "r.json"
    result = runner.invoke(
        app,
        [
            "scan",
            "--urls",
            str(links),
            "--bank",
            "b",
            "--report",
            str(report),
            "--allow-network",
            "127.0.0.1/32",
        ],
    )
    assert result.exit_code == 3, result.output
    data = json.loads(report.read_text())
    (m,) = data["matches"]
    assert m["file"] == f"{server}/redirect" and m["signal"] in ("sha256", "md5")
    assert m["provenance"]["final_url"] == f"{server}/photo.jpg"
    assert [s["reason"] for s in data["skipped"]] == ["not-media"]
    # without the explicit allowance, loopback is refused
    runner.invoke(app, ["scan", "--urls", str(links), "--report", str(report)])
    assert {s["reason"] for s in json.loads(report.read_text())["skipped"]} == {"private-address"}
