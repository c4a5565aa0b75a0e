"""The one exception media decoding raises: a file that cannot be used, and why."""

from __future__ import annotations

from pathlib import Path

from rempart.errors import RempartError


class MediaError(RempartError):
    """A media file that cannot be decoded. `reason` is a short machine code:

    empty-file, not-an-image, corrupt, truncated, too-many-pixels, too-large, unreadable,
    not-a-file, unsupported-format (and, from callers, internal-error).
    """

    status = 422
    code = "media"

    def __init__(self, path: Path | str, reason: str, detail: str) -> None:
        super().__init__(path, reason, detail)
        self.path = str(path)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"

    def __reduce__(self) -> tuple[type[MediaError], tuple[str, str, str]]:
        return (MediaError, (self.path, self.reason, self.detail))
