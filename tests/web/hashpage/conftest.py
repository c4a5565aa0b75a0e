"""Fixtures for the hashing page's browser tests: the real page as `rempart hash-page` writes
it, Debian's chromium (the `browser` fixture of tests/web/conftest.py) in a phone-sized
context that records every request, and `HashPageRun`, which chooses files in the page, fills
her agreement and returns the hash file she would save (read from the real download).

Any area's browser test (PDQ, photo signals, video) can drive the real page through these:

    def test_x(hash_page: HashPageRun) -> None:
        sub = hash_page.hash_files([path1, path2])       # the downloaded hash file (dict)
        entries = hash_page.entries()                    # each chosen file's status/item

Only ordinary generated photos and videos (rempart.samples, tests/media/video_factory.py) and
the reference files of ../shared/testdata are used.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rempart.web.hashpage import HashPageError, page_folder, write_page

REPO = Path(__file__).resolve().parents[3]
PHONE = {"width": 390, "height": 844}


def built_page(out: Path) -> Path:
    """Write the real page to `out`; builds the scripts with npm when they are missing and
    node_modules is there (as `make hashpage` does)."""
    try:
        write_page(out)
    except HashPageError:
        if not (REPO / "node_modules").is_dir():
            pytest.fail("the hashing page is not built and node_modules is missing: run "
                        "`make hashpage`", pytrace=False)  # fmt: skip
        subprocess.run(["npm", "run", "--silent", "build"], cwd=REPO, check=True)
        write_page(out)
    return out


@pytest.fixture(scope="session")
def hash_page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page as `rempart hash-page --out` writes it (one file)."""
    assert (Path(str(page_folder())) / "page.html").is_file()
    return built_page(tmp_path_factory.mktemp("hashpage") / "page.html")


@dataclass
class Requests:
    """Every request the page made (URLs), and those routed to the network layer."""

    seen: list[str] = field(default_factory=list)
    routed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # URL -> why it failed

    def network(self) -> list[str]:
        """Requests that are not local blob:/data: reads of her own files."""
        return [u for u in self.seen if not u.startswith(("blob:", "data:"))]


class HashPageRun:
    """One page in a fresh phone-sized browser context, recording its requests."""

    def __init__(self, browser: Any, url: str, *, locale: str = "en-GB",
                 viewport: dict[str, int] | None = None) -> None:  # fmt: skip
        self.context = browser.new_context(viewport=viewport or PHONE, locale=locale,
                                           accept_downloads=True)  # fmt: skip
        self.context.set_default_timeout(120_000)
        self.requests = Requests()
        self.errors: list[str] = []

        def route(r: Any) -> None:
            self.requests.routed.append(r.request.url)
            if r.request.url == url:
                r.continue_()
            else:
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("request", lambda req: self.requests.seen.append(req.url))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("requestfailed",
                     lambda req: self.requests.failed.__setitem__(req.url, req.failure or ""))
        self.url = url
        self.page.goto(url)
        self.page.wait_for_selector("#status:not(:empty)")

    def choose(self, paths: list[Path]) -> None:
        self.page.set_input_files("#files", [str(p) for p in paths])

    def wait_for(self, expression: str, timeout_ms: int) -> None:
        """Poll an expression (wait_for_function would need eval, which the CSP forbids)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while not self.page.evaluate(expression):
            if time.monotonic() > deadline:
                state = self.page.evaluate("rempartHashPage.entries()")
                raise TimeoutError(f"{expression} still false after {timeout_ms} ms: {state}")
            self.page.wait_for_timeout(100)

    def wait_all_finished(self, timeout_ms: int = 300_000) -> None:
        self.wait_for("rempartHashPage.entries().length > 0 && rempartHashPage.entries().every("
                      "e => e.status === 'done' || e.status === 'failed')", timeout_ms)  # fmt: skip

    def entries(self) -> list[dict[str, Any]]:
        return list(self.page.evaluate("rempartHashPage.entries()"))

    def agree(self, given_by: str = "Test Person", *, allow_exchange: bool = False) -> None:
        self.page.fill("#given-by", given_by)
        if allow_exchange:
            self.page.check("#allow-exchange")
        self.page.check("#consent-agree")

    def download(self, save_to: Path | None = None) -> dict[str, Any]:
        """The hash file offered by a[data-rempart=download], saved as she would."""
        link = self.page.locator('a[data-rempart="download"]')
        link.wait_for(state="visible")
        assert (link.get_attribute("href") or "").startswith("blob:")
        with self.page.expect_download() as info:
            link.click()
        path = Path(info.value.path())
        if save_to is not None:
            save_to.write_bytes(path.read_bytes())
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def hash_files(self, paths: list[Path], save_to: Path | None = None,
                   timeout_ms: int = 300_000) -> dict[str, Any]:  # fmt: skip
        """Choose the files, wait for them all, agree, and return the downloaded file."""
        self.choose(paths)
        self.wait_all_finished(timeout_ms)
        entries = self.entries()
        assert any(e["status"] == "done" for e in entries), f"nothing hashed: {entries}"
        self.agree()
        return self.download(save_to)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def hash_page(browser: Any, hash_page_path: Path) -> Iterator[HashPageRun]:
    """The real page opened from file://, in a fresh phone-sized context."""
    run = HashPageRun(browser, hash_page_path.as_uri())
    yield run
    run.close()
