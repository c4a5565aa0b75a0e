"""Reading and writing hash lists in any supported format (one module per format).

JSON lists are read as a stream (exchange/json_stream.py) and text lists line by line: with
a `sink`, the hashes are handed over in batches as they are read (a list of a million
hashes is imported in constant memory); without one, the result holds them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rempart.exchange import hma, json_stream, pdq_csv, rempart_list, stopncii
from rempart.exchange.consent import FormatError
from rempart.exchange.list_model import (
    MAX_STREAMED_JSON_BYTES,
    ExportSet,
    ParsedList,
    _size,
)

FORMATS = ("rempart", "stopncii", "hma", "csv")
READERS: dict[str, Callable[[Path], ParsedList]] = {
    "rempart": rempart_list.read,
    "stopncii": stopncii.read,
    "hma": hma.read,
    "csv": pdq_csv.read,
}
JSON_PARSERS: dict[str, Callable[[Any, str], ParsedList]] = {
    "rempart": rempart_list.parse,
    "stopncii": stopncii.parse,
    "hma": hma.parse_json,
}
WRITERS: dict[str, Callable[[ExportSet, Path], int]] = {
    "rempart": rempart_list.write,
    "stopncii": stopncii.write,
    "hma": hma.write,
    "csv": pdq_csv.write,
}
Sink = Callable[[ParsedList], None]


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _text_format(head: bytes) -> str:
    first = head.split(b"\n", 1)[0]
    return "csv" if b"," in first or len(first.strip()) == 64 else "hma"


def _json_format(path: Path, shape: json_stream.Shape) -> str:
    if shape.top == "object":
        if shape.keys.get("format") == rempart_list.FORMAT:
            return "rempart"
        if "hashRecords" in shape.keys:
            return "stopncii"
        if "contents" in shape.keys:
            return "hma"
    if shape.top == "array" and shape.first_record_keys:
        return "stopncii" if "hashValue" in shape.first_record_keys else "hma"
    raise FormatError(
        f"{path}: cannot tell the list's format: give --format ({', '.join(FORMATS)})"
    )


def detect(path: Path) -> str:
    """The format of a list file, from its content."""
    head = _head(path)
    if head[:1] not in (b"{", b"["):
        return _text_format(head)
    return _json_format(path, json_stream.shape(path))


def read_list(
    path: Path, fmt: str = "auto", *, sink: Sink | None = None, batch: int = 20_000
) -> ParsedList:
    """Parse a list file; FormatError for a file that cannot be read at all (then nothing
    is imported, nothing handed to `sink`); problems with single records are in the
    result. With a sink, every hash to add is handed to it, in batches of `batch`."""
    if fmt != "auto" and fmt not in READERS:
        raise FormatError(f"unknown list format {fmt!r}: one of {', '.join(FORMATS)}")
    head = _head(path)
    if head[:1] not in (b"{", b"[") and fmt in ("auto", "csv", "hma"):
        fmt = _text_format(head) if fmt == "auto" else fmt
        parsed = ParsedList(source=str(path), format=fmt, sink=sink, batch=batch)
        if fmt == "csv":
            pdq_csv.read(path, parsed)
        else:
            hma.parse_lines(path, parsed)
        parsed.flush()
        return parsed
    if fmt == "csv":
        parsed = pdq_csv.read(
            path, ParsedList(source=str(path), format=fmt, sink=sink, batch=batch)
        )
        parsed.flush()
        return parsed
    if head[:1] not in (b"{", b"["):  # a JSON format asked for: refused as before
        return READERS[fmt](path)
    _size(path, MAX_STREAMED_JSON_BYTES)
    shape = json_stream.shape(path)
    json_stream.check_syntax(path)  # a malformed file is refused before anything is read
    if fmt == "auto":
        fmt = _json_format(path, shape)
    parsed = ParsedList(source=str(path), format=fmt, sink=sink, batch=batch)

    def progress(done: int) -> None:
        parsed.bytes_read = done

    def stream(prefix: str) -> Any:
        return json_stream.records(path, prefix, progress)

    def must_be_list(key: str, message: str) -> None:
        if key in shape.keys and shape.keys[key] != "array":
            raise FormatError(f"{path}: {message}")

    if fmt == "stopncii":
        if shape.top == "array":
            stopncii.parse_records(parsed, stream("item"))
        elif shape.top == "object" and ("hashRecords" in shape.keys or not shape.complete):
            must_be_list("hashRecords", "'hashRecords' must be a list")
            stopncii.parse_records(parsed, stream("hashRecords.item"))
        else:
            raise FormatError(
                f"{path}: not StopNCII records (an object with 'hashRecords', or a list of records)"
            )
    elif fmt == "rempart":
        if shape.top != "object":
            raise FormatError(f"{path}: the top level must be a JSON object")
        rempart_list.check_header(shape.keys, str(path))
        must_be_list("items", "'items' and 'withdrawn' must be lists")
        must_be_list("withdrawn", "'items' and 'withdrawn' must be lists")
        rempart_list.parse_items(parsed, stream("items.item"))
        rempart_list.parse_withdrawn(parsed, stream("withdrawn.item"))
    else:  # hma
        if shape.top == "array":
            hma.parse_contents(parsed, stream("item"))
        elif shape.top == "object" and ("contents" in shape.keys or not shape.complete):
            must_be_list("contents", "HMA bank contents must be a list")
            hma.parse_contents(parsed, stream("contents.item"))
        elif shape.top == "object":
            raise FormatError(f"{path}: not HMA bank contents (no 'contents' list)")
        else:
            raise FormatError(f"{path}: HMA bank contents must be a list")
    parsed.flush()
    return parsed


def write_list(export: ExportSet, fmt: str, path: Path) -> int:
    """Write the export; returns how many records were written."""
    if fmt not in WRITERS:
        raise FormatError(f"unknown list format {fmt!r}: one of {', '.join(FORMATS)}")
    return WRITERS[fmt](export, path)
