"""Reading and writing hash lists in any supported format (one module per format)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rempart.exchange import hma, pdq_csv, rempart_list, stopncii
from rempart.exchange.consent import FormatError
from rempart.exchange.hashlist import ExportSet, ParsedList, load_json

FORMATS = ("rempart", "stopncii", "hma", "csv")
READERS: dict[str, Callable[[Path], ParsedList]] = {
    "rempart": rempart_list.read, "stopncii": stopncii.read, "hma": hma.read,
    "csv": pdq_csv.read,
}  # fmt: skip
JSON_PARSERS: dict[str, Callable[[Any, str], ParsedList]] = {
    "rempart": rempart_list.parse, "stopncii": stopncii.parse, "hma": hma.parse_json,
}  # fmt: skip
WRITERS: dict[str, Callable[[ExportSet, Path], int]] = {
    "rempart": rempart_list.write, "stopncii": stopncii.write, "hma": hma.write,
    "csv": pdq_csv.write,
}  # fmt: skip


def detect(path: Path) -> str:
    """The format of a list file, from its content."""
    return _detect(path)[0]


def _detect(path: Path) -> tuple[str, Any]:
    """The format, and the loaded JSON document when it is JSON (not loaded twice)."""
    try:
        with path.open("rb") as f:
            head = f.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if head[:1] not in (b"{", b"["):
        first = head.split(b"\n", 1)[0]
        return ("csv" if b"," in first or len(first.strip()) == 64 else "hma"), None
    data = load_json(path)
    if isinstance(data, dict):
        if data.get("format") == rempart_list.FORMAT:
            return "rempart", data
        if "hashRecords" in data:
            return "stopncii", data
        if "contents" in data:
            return "hma", data
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return ("stopncii" if "hashValue" in data[0] else "hma"), data
    raise FormatError(f"{path}: cannot tell the list's format: give --format "
                      f"({', '.join(FORMATS)})")  # fmt: skip


def read_list(path: Path, fmt: str = "auto") -> ParsedList:
    """Parse a list file; FormatError for a file that cannot be read at all (then nothing
    is imported); problems with single records are in the result."""
    if fmt == "auto":
        fmt, data = _detect(path)
        if data is not None:
            return JSON_PARSERS[fmt](data, str(path))
    if fmt not in READERS:
        raise FormatError(f"unknown list format {fmt!r}: one of {', '.join(FORMATS)}")
    return READERS[fmt](path)


def write_list(export: ExportSet, fmt: str, path: Path) -> int:
    """Write the export; returns how many records were written."""
    if fmt not in WRITERS:
        raise FormatError(f"unknown list format {fmt!r}: one of {', '.join(FORMATS)}")
    return WRITERS[fmt](export, path)
