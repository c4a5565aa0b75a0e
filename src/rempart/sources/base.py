"""What every source yields: media items with where they came from, or problems it met."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MediaRef:
    """A media item to scan: a file on disk, or bytes read from an archive or a URL (`data`),
    with its provenance. `path` names it (for bytes: the member's or URL's name, used for
    its extension and in messages)."""

    locator: str  # how reports name the item (the file path for folders)
    path: Path
    provenance: dict[str, Any] = field(default_factory=dict)
    data: bytes | None = None


@dataclass(frozen=True)
class SourceProblem:
    """Something a source could not read (a symlink loop, an unreadable folder...), or an
    item a scan skipped (a file it could not decode): one problem type for sources and scans
    (`rempart.scan.options.Skipped` is this class). `detail` is the message, naming the item."""

    locator: str
    reason: str
    detail: str
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        """The item, as scan reports name it (their "file" field)."""
        return self.locator
