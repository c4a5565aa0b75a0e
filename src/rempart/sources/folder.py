"""Folder source: walks files and folders, following links safely; archives and Telegram
exports found on the way are read by their own sources (archive.py, telegram.py,
telegram_html.py: a folder holding both result.json and HTML pages is read once, through its
JSON, which says more: chat and sender ids).

Selects images and videos by extension or, for unknown extensions, by their first bytes (so
an image saved as `.dat` is still scanned; see rempart.media.kinds). Symbolic-link loops,
broken links and unreadable folders are reported as problems, never followed forever.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from rempart.media.kinds import media_kind
from rempart.sources.archive import ARCHIVE_SUFFIXES, is_archive, iter_archive
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.telegram import EXPORT_FILE, iter_export, looks_like_export
from rempart.sources.telegram_html import (
    iter_html_export,
    iter_html_page,
    looks_like_html_export,
    looks_like_html_page,
)


def _is_media(path: Path) -> bool:
    return media_kind(path) is not None


def _could_be_archive(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(ARCHIVE_SUFFIXES) or path.suffix == ""


def _file_items(
    path: Path, root: Path, read_data: bool = True
) -> Iterator[MediaRef | SourceProblem]:
    """A file found while walking: a photo or video, an archive, or a Telegram export."""
    if _could_be_archive(path) and is_archive(path):
        yield from iter_archive(path, read_data=read_data)
    elif path.suffix.lower() == ".json":
        if looks_like_export(path):
            yield from iter_export(path)
    elif path.suffix.lower() == ".html":
        if path.name.startswith("messages") and looks_like_html_page(path):
            yield from iter_html_page(path)  # a Telegram HTML page named alone: that page
    elif _is_media(path):
        yield MediaRef(str(path), path, {"source": "folder", "root": str(root)})


def _problem_for(path: Path, exc: OSError) -> SourceProblem:
    if exc.errno == errno.ELOOP:
        return SourceProblem(str(path), "symlink-loop", f"{path}: symbolic link loop")
    if exc.errno == errno.ENOENT:
        if path.is_symlink():
            return SourceProblem(str(path), "broken-link", f"{path}: link to a missing file")
        return SourceProblem(str(path), "not-found", f"{path}: no such file or folder")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return SourceProblem(str(path), "unreadable", f"{path}: permission denied")
    return SourceProblem(str(path), "unreadable", f"{path}: {exc.strerror or exc}")


_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _special_file(path: Path, mode: int) -> SourceProblem:
    """A file that is neither a regular file nor a folder: reported, never read."""
    what = next((name for test, name in _SPECIAL if test(mode)), "a special file")
    return SourceProblem(str(path), "special-file", f"{path}: {what}, not a regular file: not read")


def iter_folder(
    roots: Iterable[Path], *, read_data: bool = True
) -> Iterator[MediaRef | SourceProblem]:
    """Yield every media file under the given files and folders, in a stable order.
    `read_data` False only lists archive members (to count items, not to scan them)."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()  # a file named twice (overlapping roots) is scanned once
    for root in roots:
        stack = [Path(root)]
        while stack:
            path = stack.pop()
            try:
                st = path.stat()  # follows links: ELOOP for a loop, ENOENT for a broken link
            except OSError as exc:
                yield _problem_for(path, exc)
                continue
            if stat.S_ISREG(st.st_mode):
                if str(path) in seen_files:
                    continue
                seen_files.add(str(path))
                yield from _file_items(path, Path(root), read_data)
                continue
            if not stat.S_ISDIR(st.st_mode):  # never opened (a FIFO would block the scan)
                yield _special_file(path, st.st_mode)
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                yield SourceProblem(
                    str(path), "symlink-loop", f"{path}: link back to a folder already scanned"
                )
                continue
            seen_dirs.add(key)
            export = path / EXPORT_FILE
            if export.is_file() and looks_like_export(export):
                yield from iter_export(export)  # a Telegram export: its JSON says what is in it
                continue
            if looks_like_html_export(path):
                yield from iter_html_export(path)  # the same in HTML (no result.json beside)
                continue
            try:
                with os.scandir(path) as it:
                    names = sorted((entry.name for entry in it), reverse=True)
            except OSError as exc:
                yield _problem_for(path, exc)
                continue
            stack.extend(path / name for name in names)
