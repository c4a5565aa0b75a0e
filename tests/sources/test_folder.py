import os
from pathlib import Path

import pytest

from rempart.samples import photo_like
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder


def test_walks_media_by_extension_and_by_content(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    photo_like(1, (64, 48)).save(tmp_path / "a" / "one.jpg")
    photo_like(2, (64, 48)).save(tmp_path / "disguised.dat", format="PNG")
    (tmp_path / "notes.txt").write_text("hello")
    found = list(iter_folder([tmp_path]))
    assert all(isinstance(f, MediaRef) for f in found)
    assert sorted(Path(f.locator).name for f in found) == ["disguised.dat", "one.jpg"]


def test_symlink_loops_and_broken_links_are_reported_not_followed(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    photo_like(1, (64, 48)).save(tmp_path / "d" / "p.jpg")
    os.symlink(tmp_path / "d", tmp_path / "d" / "back-up")  # a folder loop
    os.symlink(tmp_path / "self.jpg", tmp_path / "self.jpg")  # a link to itself
    os.symlink(tmp_path / "gone.jpg", tmp_path / "broken.jpg")
    found = list(iter_folder([tmp_path]))
    media = [f for f in found if isinstance(f, MediaRef)]
    problems = {Path(f.locator).name: f.reason for f in found if isinstance(f, SourceProblem)}
    assert [Path(m.locator).name for m in media] == ["p.jpg"]
    assert problems == {
        "back-up": "symlink-loop",
        "self.jpg": "symlink-loop",
        "broken.jpg": "broken-link",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_unreadable_folder_is_reported(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        found = list(iter_folder([tmp_path]))
    finally:
        locked.chmod(0o755)
    assert [(f.reason) for f in found if isinstance(f, SourceProblem)] == ["unreadable"]


def test_single_file_and_missing_root(tmp_path: Path) -> None:
    photo_like(1, (64, 48)).save(tmp_path / "x.png")
    [one] = list(iter_folder([tmp_path / "x.png"]))
    assert isinstance(one, MediaRef)
    [missing] = list(iter_folder([tmp_path / "nope"]))
    assert isinstance(missing, SourceProblem)
    assert missing.reason == "not-found" and "no such file" in missing.detail


def test_a_file_named_twice_is_listed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo_like(1, (64, 48)).save(tmp_path / "a.jpg")
    monkeypatch.chdir(tmp_path)
    found = list(iter_folder([Path("a.jpg"), Path("a.jpg"), Path(".")]))
    assert [f.locator for f in found] == ["a.jpg"]
