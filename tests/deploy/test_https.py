"""deploy/'s HTTPS recipe, for real: Debian's Caddy (installed by `make caddy`, which
`make test` runs) with its internal certificate authority (`tls internal`) on a free
loopback port, importing deploy/caddy/rempart-proxy.caddy as a server does, in front of a
real `rempart serve` on loopback that trusts Caddy's X-Forwarded-For
(REMPART_TRUSTED_PROXIES=127.0.0.1) and keeps its default Secure session cookie.

Trust is real, not switched off: Caddy's root certificate is read from its data folder and
added to the NSS database of the Chromium profile's home ($HOME/.pki/nssdb, Debian's
certutil), and given to httpx as its only CA; nothing uses ignore_https_errors. Chromium
signs in through HTTPS and opens a page; the session cookie carries Secure. The client's
address rempart sees is the real one: ten wrong keys from 127.0.0.5 lock 127.0.0.5 out
(429) while a client at 127.0.0.6 claiming to be 127.0.0.5 in X-Forwarded-For, and the
browser at 127.0.0.1, are not (behind an untrusted proxy all three would be one address).
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Server, World, build_world, free_port

ROOT = Path(__file__).resolve().parents[2]
PROXY_SNIPPET = ROOT / "deploy" / "caddy" / "rempart-proxy.caddy"
CADDY = shutil.which("caddy") or "/usr/bin/caddy"
CERTUTIL = shutil.which("certutil") or "/usr/bin/certutil"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


class Caddy:
    """Debian's caddy in the foreground, its state (CA included) in `root`."""

    def __init__(self, root: Path, upstream: str) -> None:
        if not Path(CADDY).exists():
            pytest.fail(
                f"{CADDY} is missing (Debian package caddy; `make test` installs it)",
                pytrace=False,
            )
        self.root = root
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        config = root / "Caddyfile"
        config.write_text(
            "{\n"
            "\tadmin off\n"
            "\tskip_install_trust\n"
            "\tauto_https disable_redirects\n"
            f"\thttp_port {free_port()}\n"
            f"\thttps_port {self.port}\n"
            "}\n"
            f"https://127.0.0.1:{self.port} {{\n"
            "\ttls internal\n"
            f"\timport {PROXY_SNIPPET}\n"
            "}\n"
        )
        self.log = root / "caddy.log"
        env = {
            **os.environ,
            "HOME": str(root),
            "XDG_DATA_HOME": str(root / "data"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "REMPART_UPSTREAM": upstream,
        }
        self.proc = subprocess.Popen(
            [CADDY, "run", "--adapter", "caddyfile", "--config", str(config)],
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.root_cert = root / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        deadline = time.monotonic() + 30
        while True:
            if self.root_cert.exists():
                try:
                    with httpx.Client(verify=self.ssl_context(), timeout=2) as c:
                        if c.get(self.url + "/ready").status_code == 200:
                            break
                except (httpx.HTTPError, ssl.SSLError):
                    pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("caddy did not start:\n" + self.log.read_text())
            time.sleep(0.1)

    def ssl_context(self) -> ssl.SSLContext:
        """Caddy's root as the only trusted CA (verification stays on)."""
        return ssl.create_default_context(cafile=str(self.root_cert))

    def client(self, local_address: str) -> httpx.Client:
        """A client whose connections leave from `local_address` (another loopback address:
        another client, as far as anyone behind Caddy can tell)."""
        transport = httpx.HTTPTransport(verify=self.ssl_context(), local_address=local_address)
        return httpx.Client(base_url=self.url, transport=transport, timeout=15)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Caddy]]:
    world = build_world(tmp_path_factory.mktemp("deploy"))
    server = Server(world, REMPART_TRUSTED_PROXIES="127.0.0.1")  # Secure cookie: default
    try:
        caddy = Caddy(tmp_path_factory.mktemp("caddy"), f"127.0.0.1:{server.port}")
    except BaseException:
        server.stop()
        raise
    yield world, caddy
    caddy.stop()
    server.stop()


@pytest.fixture(scope="module")
def browser(https: tuple[World, Caddy], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's chromium whose home's NSS database trusts Caddy's root (and nothing else
    was added: a certificate from any other CA is still refused)."""
    _, caddy = https
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (`make test` installs it)", pytrace=False)
    if not Path(CERTUTIL).exists():
        pytest.fail(
            f"{CERTUTIL} is missing (Debian package libnss3-tools; `make caddy` installs it)",
            pytrace=False,
        )
    home = tmp_path_factory.mktemp("chromium-home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(
        [CERTUTIL, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True
    )
    subprocess.run(
        [CERTUTIL, "-A", "-d", f"sql:{nssdb}", "-n", "caddy-test-root", "-t", "C,,"]
        + ["-i", str(caddy.root_cert)],
        check=True,
        capture_output=True,
    )
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
        )
    except Exception as exc:
        pw.stop()
        pytest.fail(f"chromium could not start: {exc}", pytrace=False)
    yield b
    b.close()
    pw.stop()


def test_certificate_is_verified_not_ignored(https: tuple[World, Caddy]) -> None:
    """The certificate really comes from Caddy's internal CA: without its root a client
    refuses the connection; with it, it connects, and Caddy's headers are there."""
    _, caddy = https
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(caddy.url + "/ready", timeout=5)
    with caddy.client("127.0.0.1") as c:
        assert c.get("/ready").status_code == 200
        r = c.get("/ui/login")
    assert r.status_code == 200
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert "caddy" not in r.headers.get("server", "").lower()
    assert r.headers.get("x-content-type-options") == "nosniff"  # rempart's own headers


def _wrong_key(c: httpx.Client, **headers: str) -> int:
    form = c.get("/ui/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    r = c.post(
        "/ui/login",
        data={"csrf": token.group(1), "key": "not-a-key", "next": "/ui/"},
        headers=headers,
    )
    return r.status_code


def test_browser_signs_in_over_https_with_secure_cookie_and_real_client_address(
    https: tuple[World, Caddy], browser: Any
) -> None:
    world, caddy = https
    # 1. Wrong keys from 127.0.0.5 until rempart locks that address out.
    statuses: list[int] = []
    with caddy.client("127.0.0.5") as attacker:
        while len(statuses) < 40 and 429 not in statuses:
            statuses.append(_wrong_key(attacker))
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {401}, statuses
    # 2. Another client claiming to be 127.0.0.5: Caddy replaces the header it sent with the
    #    address it saw, so rempart counts 127.0.0.6 (a first failure, not a lock-out).
    with caddy.client("127.0.0.6") as other:
        assert _wrong_key(other, **{"X-Forwarded-For": "127.0.0.5"}) == 401
    # 3. The browser, at 127.0.0.1, signs in through HTTPS (a trusted certificate: no
    #    error page), then opens a page.
    ctx = browser.new_context(base_url=caddy.url, locale="en-GB")
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        response = page.goto("/ui/login")
        assert response is not None and response.ok
        assert page.evaluate("location.protocol") == "https:"
        page.fill("#key", world.keys["ca"])
        page.click("#login-submit")
        page.wait_for_url("**/ui/")
        assert "CASE-A" in page.content()
        cookies = {c["name"]: c for c in ctx.cookies()}
        session = cookies["rempart_session"]
        assert session["secure"] is True
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Strict"
        response = page.goto("/ui/review")
        assert response is not None and response.status == 200
        assert page.url.startswith(caddy.url)
    finally:
        ctx.close()
