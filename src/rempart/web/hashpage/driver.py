"""Drive her hashing page in Debian's chromium, as she would use it: choose files, wait for
the page's workers, fill her agreement, save the hash file from a[data-rempart=download].

One driver for the tests (tests/web/hashpage), the benchmarks (bench/browser_bench.py,
bench/robustness.py) and the demo, so that all three measure and show the same real page
rather than each its own imitation of it. Playwright is a development dependency: it is
imported inside the functions that start a browser, never when this module is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rempart.web.hashpage import HashPageError, write_page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
REPO = Path(__file__).resolve().parents[4]


class DriverError(RuntimeError):
    """The page could not be driven (no chromium, nothing hashed, no download)."""


def chromium_missing() -> str | None:
    """Why the page cannot be driven here (None: chromium and Playwright are there)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian package chromium; `make chromium` installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is not installed (a development dependency)"
    return None


def built_page(out: Path) -> Path:
    """Write the real page to `out` (as `rempart hash-page --out`); builds the scripts with
    npm when they are missing and node_modules is there (as `make hashpage` does)."""
    try:
        write_page(out)
    except HashPageError:
        if not (REPO / "node_modules").is_dir():
            raise HashPageError(
                "the hashing page is not built and node_modules is missing: run `make hashpage`"
            ) from None
        subprocess.run(["npm", "run", "--silent", "build"], cwd=REPO, check=True)
        write_page(out)
    return out


@contextmanager
def launch_chromium(extra_args: list[str] | None = None) -> Iterator[Any]:
    """One headless Debian chromium (a Playwright Browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    why = chromium_missing()
    if why:
        raise DriverError(why)
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS + (extra_args or [])
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


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
    """One page in a fresh browser context (phone-sized unless told), recording its
    requests; every request other than the page itself is refused."""

    def __init__(
        self,
        browser: Any,
        url: str,
        *,
        locale: str = "en-GB",
        viewport: dict[str, int] | None = None,
    ) -> None:
        self.context = browser.new_context(
            viewport=viewport or PHONE, locale=locale, accept_downloads=True
        )
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
        self.page.on(
            "requestfailed",
            lambda req: self.requests.failed.__setitem__(req.url, req.failure or ""),
        )
        self.url = url
        self.page.goto(url)
        self.page.wait_for_selector("#status:not(:empty)")

    def set_options(self, *, robust: bool = True, keypoints: bool = True) -> None:
        """The page's two options (both ticked by default), before files are chosen, as
        she would set them (the options are folded away until she opens them)."""
        self.page.locator("details.options").evaluate("d => { d.open = true; }")
        if robust:
            self.page.set_checked("#opt-robust", True)
            self.page.set_checked("#opt-keypoints", keypoints)
        else:
            self.page.set_checked("#opt-keypoints", False)
            self.page.set_checked("#opt-robust", False)

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
        self.wait_for(
            "rempartHashPage.entries().length > 0 && rempartHashPage.entries().every("
            "e => e.status === 'done' || e.status === 'failed')",
            timeout_ms,
        )

    def entries(self) -> list[dict[str, Any]]:
        return list(self.page.evaluate("rempartHashPage.entries()"))

    def workers(self) -> int:
        """How many workers the page's pool holds."""
        return int(self.page.evaluate("rempartHashPage.workers()"))

    def agree(self, given_by: str = "Test Person", *, allow_exchange: bool = False) -> None:
        self.page.fill("#given-by", given_by)
        if allow_exchange:
            self.page.check("#allow-exchange")
        self.page.check("#consent-agree")

    def download(self, save_to: Path | None = None) -> dict[str, Any]:
        """The hash file offered by a[data-rempart=download], saved as she would."""
        link = self.page.locator('a[data-rempart="download"]')
        link.wait_for(state="visible")
        href = link.get_attribute("href") or ""
        if not href.startswith("blob:"):
            raise DriverError(f"the download link is not a blob: URL: {href[:80]!r}")
        with self.page.expect_download() as info:
            link.click()
        path = Path(info.value.path())
        if save_to is not None:
            save_to.write_bytes(path.read_bytes())
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def hash_files(
        self,
        paths: list[Path],
        save_to: Path | None = None,
        timeout_ms: int = 300_000,
        given_by: str = "Test Person",
    ) -> dict[str, Any]:
        """Choose the files, wait for them all, agree, and return the downloaded file."""
        self.choose(paths)
        self.wait_all_finished(timeout_ms)
        entries = self.entries()
        if not any(e["status"] == "done" for e in entries):
            raise DriverError(f"nothing hashed: {entries}")
        self.agree(given_by)
        return self.download(save_to)

    def close(self) -> None:
        self.context.close()


def hash_with_page(
    paths: list[Path],
    save_to: Path,
    *,
    page: Path | None = None,
    robust: bool = True,
    keypoints: bool = True,
    given_by: str = "Rempart",
    timeout_ms: int = 1_800_000,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Hash `paths` in one run of the real page (written to a temporary file unless `page`
    is given) and save her hash file to `save_to`: (the file, the page's entries)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rempart-page-") as tmp:
        path = page or built_page(Path(tmp) / "page.html")
        with launch_chromium() as browser:
            run = HashPageRun(browser, path.as_uri(), viewport={"width": 1200, "height": 900})
            try:
                run.set_options(robust=robust, keypoints=keypoints)
                sub = run.hash_files(paths, save_to, timeout_ms, given_by)
                return sub, run.entries()
            finally:
                run.close()


def cores() -> int:
    """The cores this process may use (the page's pool and the CLI size from it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
