"""Fixtures for the hashing page's browser tests: the real page as `rempart hash-page` writes
it, Debian's chromium (the `browser` fixture of tests/web/conftest.py) in a phone-sized
context that records every request, and `HashPageRun` (rempart.web.hashpage.driver, the
driver the benchmarks and the demo share), which chooses files in the page, fills her
agreement and returns the hash file she would save (read from the real download).

Any area's browser test (PDQ, photo signals, video) can drive the real page through these:

    def test_x(hash_page: HashPageRun) -> None:
        sub = hash_page.hash_files([path1, path2])       # the downloaded hash file (dict)
        entries = hash_page.entries()                    # each chosen file's status/item

Only ordinary generated photos and videos (rempart.samples, tests/media/video_factory.py) and
the reference files of ../shared/testdata are used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rempart.web.hashpage import HashPageError, page_folder
from rempart.web.hashpage.driver import PHONE, HashPageRun, Requests
from rempart.web.hashpage.driver import built_page as _built_page

__all__ = ["PHONE", "HashPageRun", "Requests", "built_page"]


def built_page(out: Path) -> Path:
    """Write the real page to `out` (rempart.web.hashpage.driver.built_page); a page that
    cannot be built fails the test with the reason."""
    try:
        return _built_page(out)
    except HashPageError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def hash_page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page as `rempart hash-page --out` writes it (one file)."""
    assert (Path(str(page_folder())) / "page.html").is_file()
    return built_page(tmp_path_factory.mktemp("hashpage") / "page.html")


@pytest.fixture
def hash_page(browser: Any, hash_page_path: Path) -> Iterator[HashPageRun]:
    """The real page opened from file://, in a fresh phone-sized context."""
    run = HashPageRun(browser, hash_page_path.as_uri())
    yield run
    run.close()
