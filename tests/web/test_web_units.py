"""The web UI without a browser: catalogues complete in every language, session cookies
that cannot be forged, every POST refused without its CSRF token, the cookie's flags and
security headers, scan folders kept inside the scan root."""

from __future__ import annotations

import json
import re
import string
import time
from importlib import resources
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import Server, World
from tests.web.conftest import match_refs

from rempart.cases import notices, review, workflow
from rempart.store.repository import StoreError
from rempart.web import scans
from rempart.web import session as sessions
from rempart.web.i18n import LANGUAGES, Translator, catalogue, pick
from rempart.web.routes import router

TEMPLATES = resources.files("rempart") / "web" / "templates"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogues_complete_and_consistent() -> None:
    english = catalogue("en")
    used = set()
    for template in TEMPLATES.iterdir():
        used |= set(
            re.findall(
                r"""\bt\(\s*["']([a-z_-]+\.[a-z_.-]*[a-z_])["']\s*[,)]""",
                template.read_text("utf-8"),
            )
        )
    # Keys built from values: every value the pages may show.
    used |= {f"state.{s}" for s in workflow.STATES}
    used |= {f"decision.{d}" for d in (*review.DECISIONS, "pending", "removed", "all")}
    used |= {f"notice_status.{s}" for s in notices.STATUSES}
    used |= {f"scan.{s}" for s in ("queued", "running", "finished", "failed")}
    used |= {"saved.decided", "saved.flagged"}
    assert len(used) > 100
    assert used <= set(english), sorted(used - set(english))
    for lang in LANGUAGES:
        pairs = json.loads(
            (resources.files("rempart") / "web" / "i18n" / f"{lang}.json").read_text("utf-8"),
            object_pairs_hook=list,
        )
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), (lang, sorted({k for k in keys if keys.count(k) > 1}))
        words = dict(pairs)
        assert set(words) == set(english), (lang, set(words) ^ set(english))
        for key, text in words.items():
            assert text.strip(), (lang, key)
            assert _placeholders(text) == _placeholders(english[key]), (lang, key)
    # Really translated, not copies of the English.
    for lang in ("fr", "ko"):
        same = [k for k, v in catalogue(lang).items() if v == english[k] and "{" not in v]
        assert len(same) <= 3, (lang, same)


def test_language_choice() -> None:
    assert pick("", "ko-KR,ko;q=0.9,en;q=0.8") == "ko"
    assert pick("", "de-DE,fr;q=0.5") == "fr"
    assert pick("fr", "ko") == "fr"
    assert pick("", None) == "en"
    assert Translator("xx")("nav.cases") == "Cases"
    assert Translator("ko")("case.title", number="C-1") == "사건 C-1"


def test_session_cookie_cannot_be_forged(tmp_path: Path) -> None:
    key = sessions.signing_key(tmp_path)
    assert sessions.signing_key(tmp_path) == key  # made once, then read
    assert (tmp_path / "keys" / sessions.KEY_FILE).stat().st_mode & 0o777 == 0o600
    s = sessions.Session().signed_in(7, hours=1)
    value = sessions.encode(s, key)
    assert sessions.decode(value, key) == s
    body, mac = value.split(".")
    forged = sessions.encode(sessions.Session(key_row=1, expires=time.time() + 99), b"x" * 32)
    for bad in (forged, body + "." + mac[::-1], "x" + value, value + "x", "", "a.b.c", None):
        assert sessions.decode(bad, key) is None, bad
    old = sessions.encode(sessions.Session(lang="fr", key_row=7, expires=time.time() - 1), key)
    expired = sessions.decode(old, key)
    assert expired is not None and expired.key_row is None and expired.lang == "fr"
    assert s.check_csrf(s.csrf) and not s.check_csrf("") and not s.check_csrf(s.csrf + "x")


def test_scan_folder_stays_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    (root / "a" / "b").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    assert scans.resolve_folder(root, "a/b") == (root / "a" / "b").resolve()
    for bad in ("", "/", "..", "../outside", "a/../../outside", "link", str(tmp_path), "missing"):
        with pytest.raises(StoreError):
            scans.resolve_folder(root, bad)
    assert scans.load(tmp_path, "../../etc/passwd") is None


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m is not None
    return m.group(1)


def test_every_post_needs_the_csrf_token(web_server: Server, web_world: World) -> None:
    posts = [r.path for r in router.routes if "POST" in getattr(r, "methods", ())]
    assert len(posts) >= 11
    with httpx.Client(base_url=web_server.url, follow_redirects=False, timeout=30) as c:
        token = _csrf(c.get("/ui/login").text)
        r = c.post("/ui/login", data={"csrf": token, "key": web_world.keys["ca"]})
        assert r.status_code == 303
        token = _csrf(c.get("/ui/").text)
        for path in posts:
            url = re.sub(
                r"\{[a-z_]+\}",
                lambda m: {
                    "{number}": "CASE-A",
                    "{ref}": "m1",
                    "{notice_id}": "1",
                    "{job_id}": "x",
                }[m.group(0)],
                path,
            )
            for data in ({}, {"csrf": ""}, {"csrf": token + "x"}):
                r = c.post(url, data=data)
                assert r.status_code == 403, (path, data, r.status_code)
        # The token of another session does not work either.
        with httpx.Client(base_url=web_server.url, timeout=30) as other:
            foreign = _csrf(other.get("/ui/login").text)
        assert c.post("/ui/logout", data={"csrf": foreign}).status_code == 403


def test_cookie_flags_and_headers(web_server: Server) -> None:
    r = httpx.get(web_server.url + "/ui/login")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # REMPART_WEB_COOKIE_SECURE=0 in these tests only
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    for asset in ("/ui/static/app.css", "/ui/static/app.js"):
        assert httpx.get(web_server.url + asset).status_code == 200
    html = r.text
    assert not re.search(r"""(src|href)=["']https?://""", html)  # nothing from another site
    assert (
        httpx.get(web_server.url + "/openapi.json")
        .json()["paths"]
        .keys()
        .isdisjoint({"/ui/", "/ui/login"})
    )


def test_secure_cookie_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from rempart.api.settings import ApiSettings
    from rempart.server import create_app

    monkeypatch.delenv("REMPART_WEB_COOKIE_SECURE", raising=False)
    app = create_app(ApiSettings(db_url=f"sqlite:///{tmp_path / 'r.db'}", home=tmp_path / "h"))
    with TestClient(app, base_url="https://testserver") as c:
        cookie = c.get("/ui/login").headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def _signed_in(server: Server, key: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
    r = c.post("/ui/login", data={"csrf": _csrf(c.get("/ui/login").text), "key": key})
    assert r.status_code == 303
    return c, _csrf(c.get("/ui/").text)


def test_possible_minor_first_and_never_revealed(web_server: Server, web_world: World) -> None:
    ref = match_refs(web_world)["CASE-B"]
    c, token = _signed_in(web_server, web_world.keys["cb"])  # org-b's caseworker
    try:
        assert (
            c.post(f"/ui/matches/{ref}/flag-minor", data={"csrf": token, "reason": ""}).status_code
            == 400
        )  # a reason is needed
        r = c.post(f"/ui/matches/{ref}/flag-minor", data={"csrf": token, "reason": "looks young"})
        assert r.status_code == 303
        page = c.get(f"/ui/matches/{ref}").text
        assert 'id="minor-banner"' in page and 'id="reveal"' in page
        r = c.post(f"/ui/matches/{ref}/reveal", data={"csrf": token})
        assert r.status_code == 403 and "data:image" not in r.text
        assert "never revealed" in r.text
        queue = c.get("/ui/review").text
        assert queue.index(f">{ref}<") < queue.index("</ul>") and "MINOR?" in queue
        # The blurred preview is still there for triage.
        png = c.get(f"/ui/matches/{ref}/preview.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    finally:
        c.close()
