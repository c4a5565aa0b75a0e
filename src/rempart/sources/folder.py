"""Folder source: walks files and folders, following links safely.

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
from rempart.sources.base import MediaRef, SourceProblem


def _is_media(path: Path) -> bool:
    return media_kind(path) is not None


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


def iter_folder(roots: Iterable[Path]) -> Iterator[MediaRef | SourceProblem]:
    """Yield every media file under the given files and folders, in a stable order."""
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
                if _is_media(path):
                    yield MediaRef(str(path), path, {"source": "folder", "root": str(root)})
                continue
            if not stat.S_ISDIR(st.st_mode):
                continue  # sockets, fifos, devices: never opened
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                yield SourceProblem(
                    str(path), "symlink-loop", f"{path}: link back to a folder already scanned"
                )
                continue
            seen_dirs.add(key)
            try:
                with os.scandir(path) as it:
                    names = sorted((entry.name for entry in it), reverse=True)
            except OSError as exc:
                yield _problem_for(path, exc)
                continue
            stack.extend(path / name for name in names)
