"""The hashing page as she sees it on a phone: its language follows the browser and the
chooser (every catalogue has every English key), every field has a label, the keyboard
reaches the file chooser, cancel stops the work and lists what was not hashed, and a
phone-sized screenshot in each language lands in test-artifacts/web/ for a human to look at."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.web.conftest import ARTIFACTS
from tests.web.hashpage.conftest import HashPageRun

from rempart.samples import photo_like
from rempart.web.hashpage import catalogues


def test_every_catalogue_has_every_key() -> None:
    cats = catalogues()
    english = set(cats["en"]["strings"])  # type: ignore[arg-type]
    for code, cat in cats.items():
        assert set(cat["strings"]) == english, code  # type: ignore[arg-type]
        assert cat.get("name"), code


def test_language_follows_browser_and_chooser(browser: Any, hash_page_path: Path) -> None:
    run = HashPageRun(browser, hash_page_path.as_uri(), locale="ko-KR")
    try:
        page = run.page
        assert page.get_attribute("html", "lang") == "ko"
        assert page.inner_text("h1") == catalogues()["ko"]["strings"]["title"]  # type: ignore[index]
        page.select_option("#lang", "fr")
        assert page.get_attribute("html", "lang") == "fr"
        assert "photos" in page.inner_text("h1")
        assert page.input_value("#purpose").startswith("Trouver")
    finally:
        run.close()


def test_labels_and_keyboard(hash_page: HashPageRun) -> None:
    page = hash_page.page
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.id)""")
    assert unlabelled == []
    # Tab from the top: skip link, language chooser, then the file chooser.
    reached = []
    for _ in range(4):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    assert "files" in reached, reached
    assert page.get_attribute("#status", "aria-live") == "polite"


def test_cancel_lists_what_was_not_hashed(hash_page: HashPageRun, tmp_path: Path) -> None:
    paths = []
    picture = photo_like(81, (1600, 1200))
    for quality in range(70, 98, 3):  # ten distinct files of one picture (cheap to make)
        p = tmp_path / f"big-q{quality}.jpg"
        picture.save(p, "JPEG", quality=quality)
        paths.append(p)
    hash_page.choose(paths)
    hash_page.page.click("#cancel")
    hash_page.wait_all_finished()
    entries = hash_page.entries()
    cancelled = [e for e in entries if e["code"] == "cancelled"]
    assert cancelled, entries
    assert all(e["status"] in ("done", "failed") for e in entries)
    listed = hash_page.page.inner_text("#failed-list")
    assert all(e["name"] in listed for e in cancelled)
    assert hash_page.page.is_visible("#reset") and not hash_page.page.is_visible("#cancel")


def test_phone_screenshots(browser: Any, hash_page_path: Path, tmp_path: Path) -> None:
    """One full-page phone screenshot per language after two photos and a bad file."""
    files = []
    for seed in (101, 102):
        p = tmp_path / f"holiday-{seed}.jpg"
        photo_like(seed, (800, 600)).save(p, "JPEG", quality=88)
        files.append(p)
    (tmp_path / "notes.jpg").write_text("not a picture")
    files.append(tmp_path / "notes.jpg")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for code in catalogues():
        run = HashPageRun(browser, hash_page_path.as_uri(), locale=code)
        try:
            page = run.page
            page.screenshot(path=str(tmp_path / f"hashpage-{code}-start.png"))
            run.choose(files)
            run.wait_all_finished()
            run.agree("Mina")
            page.locator('a[data-rempart="download"]').wait_for(state="visible")
            shot = tmp_path / f"hashpage-{code}.png"
            page.screenshot(path=str(shot), full_page=True)
            for name in (shot.name, f"hashpage-{code}-start.png"):
                shutil.copy(tmp_path / name, ARTIFACTS / name)
            # Nothing of the page's text is left untranslated (no raw key shown).
            text = page.inner_text("body")
            assert not any(k in text for k in ("state.", "error.", "result.", "consent."))
            assert json.loads(page.evaluate("JSON.stringify(rempartHashPage.workers())")) >= 1
        finally:
            run.close()
