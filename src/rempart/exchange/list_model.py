"""What every hash-list format reads into and writes from: a parsed list (hashes to add,
withdrawals, problems), the set a bank exports, and the bounded readers they share.

Kept apart from hashlist.py (which stores lists in banks and exports them) so that the
format modules and lists.py import only this and hashlist.py can import lists.py: no import
circle (issue 17). hashlist.py re-exports these names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rempart.exchange.consent import FormatError
from rempart.exchange.submission import SubmissionItem
from rempart.signals.types import REGISTRY

MAX_JSON_BYTES = 64 * 1024 * 1024  # a JSON document parsed whole: keep it bounded
MAX_STREAMED_JSON_BYTES = 512 * 1024 * 1024  # JSON lists are read as a stream
MAX_TEXT_BYTES = 512 * 1024 * 1024  # CSV and text lists are streamed line by line
MAX_LINE_CHARS = 4096
MAX_PROBLEMS_SHOWN = 1000  # past this, problems are counted, not all kept
HEX_LENGTH = REGISTRY.hex_chars()  # of the exchanged types: pdq 64, md5 32, sha256 64
EXCHANGED_TYPES = REGISTRY.exchanged()  # pdq, md5, sha256


def clean_hex(value: Any, kind: str) -> str | None:
    """The lowercase hex of a `kind` hash, or None if it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if len(text) != HEX_LENGTH[kind]:
        return None
    try:
        bytes.fromhex(text)
    except ValueError:
        return None
    return text


def _seen_key(kind: str, value: str) -> bytes:
    """A compact key for a hash seen in a list (a million of them stay small): the
    signal type's initial (p, m, s) and the hash's bytes."""
    try:
        return kind[:1].encode() + bytes.fromhex(value)
    except ValueError:
        return kind.encode() + b":" + value.encode()


@dataclass
class ParsedList:
    """What one list file holds, and what was wrong in it.

    Read whole, `items` holds every hash to add. Read as a stream (`sink` set), `items`
    holds at most `batch` of them: each full batch is handed to `sink` (which imports it)
    and cleared; `handed` counts what went to the sink."""

    source: str
    format: str
    items: list[SubmissionItem] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)  # per item
    withdrawn: list[tuple[str, str]] = field(default_factory=list)  # (pdq|md5|sha256, hex)
    withdrawn_digests: list[tuple[str, str]] = field(default_factory=list)  # (type, sha256)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    records: int = 0
    sink: Callable[[ParsedList], None] | None = None  # takes `items` and `labels`
    batch: int = 20_000
    handed: int = 0
    bytes_read: int = 0  # how far reading got in the file (for progress)
    # hash key -> 2 x record number + 1 if it was withdrawn
    _seen: dict[bytes, int] = field(default_factory=dict)

    def problem(self, record: int | None, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            where = f"{self.source}: record {record}" if record is not None else self.source
            self.problems.append(f"{where}: {message}")

    def add_item(self, record: int, item: SubmissionItem, label: str | None = None) -> None:
        """Add a hash to import, unless the file already had it (a duplicate, reported; if
        an earlier record withdrew it, the withdrawal stands)."""
        if item.pdq and not item.md5 and not item.sha256:  # a partner's PDQ (most lists)
            keys = [("pdq", _seen_key("pdq", item.pdq))]
        else:
            keys = [
                (k, _seen_key(k, v))
                for k, v in (("sha256", item.sha256), ("md5", item.md5), ("pdq", item.pdq))
                if v
            ]
        for kind, key in keys:
            seen = self._seen.get(key)
            if seen is not None:
                what = "withdrawn by" if seen & 1 else "a duplicate of"
                self.problem(record, f"same {kind} hash as record {seen >> 1}: {what} it, ignored")
                return
        for _, key in keys:
            self._seen[key] = record << 1
        self.items.append(item)
        self.labels.append(label)
        if self.sink is not None and len(self.items) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Hand the items held to the sink (streamed reading)."""
        if self.sink is not None and self.items:
            self.sink(self)
            self.handed += len(self.items)
            self.items, self.labels = [], []

    def add_withdrawal(self, record: int, kind: str, value: str) -> None:
        """A withdrawn hash. Withdrawal wins over an earlier record adding the same hash:
        in doubt, a hash is deleted, never kept (an addition already imported by a streamed
        read is deleted again when the withdrawals are applied, after the items)."""
        key = _seen_key(kind, value)
        seen = self._seen.get(key)
        if seen is not None:
            if seen & 1:
                self.problem(
                    record, f"same {kind} hash as record {seen >> 1}: a duplicate, ignored"
                )
                return
            self.problem(
                record,
                f"withdraws the {kind} hash that record {seen >> 1} adds: "
                "withdrawn (a withdrawal wins)",
            )
            self._drop_item(kind, value)
        self._seen[key] = (record << 1) | 1
        self.withdrawn.append((kind, value))

    def _drop_item(self, kind: str, value: str) -> None:
        for i, item in enumerate(self.items):
            if {"pdq": item.pdq, "md5": item.md5, "sha256": item.sha256}[kind] == value:
                del self.items[i]
                del self.labels[i]
                return


# --- reading files -------------------------------------------------------------------------


def _size(path: Path, limit: int) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not path.is_file():
        raise FormatError(f"{path}: not a file")
    if size > limit:
        raise FormatError(f"{path}: file is {size} bytes, over the {limit} byte limit")
    return size


def load_json(path: Path) -> Any:
    """A whole JSON file, bounded in size; FormatError names the file and what is wrong."""
    _size(path, MAX_JSON_BYTES)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise FormatError(f"{path}: JSON nested too deeply") from exc


def text_lines(path: Path, parsed: ParsedList) -> Iterable[tuple[int, str]]:
    """(line number, line) of a text file, streamed: bounded in size and line length; a
    line that is not UTF-8 or too long is a problem, and reading goes on."""
    _size(path, MAX_TEXT_BYTES)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with handle:
        yield from _lines(handle, path, parsed)


def _lines(handle: Any, path: Path, parsed: ParsedList) -> Iterable[tuple[int, str]]:
    number = 0
    while True:
        try:
            raw = handle.readline(MAX_LINE_CHARS + 1)  # bounded, even with no newline
            number += 1
            if len(raw) > MAX_LINE_CHARS and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of that line
                    raw = handle.readline(1 << 16)
                parsed.problem(number, f"line longer than {MAX_LINE_CHARS} characters")
                continue
        except OSError as exc:  # a disk error halfway: the file is refused as a whole
            raise FormatError(f"{path}: read error ({exc.strerror or exc})") from exc
        if not raw:
            return
        if number % 256 == 0:
            parsed.bytes_read = handle.tell()
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            parsed.problem(number, "not UTF-8 text")
            continue
        yield number, line.rstrip("\r\n")


def image_item(pdq: str, quality: int | None = None) -> SubmissionItem:
    return SubmissionItem(md5="", sha256="", pdq=pdq, pdq_quality=quality, width=None, height=None)


def video_item(md5: str = "", sha256: str = "") -> SubmissionItem:
    return SubmissionItem(
        md5=md5,
        sha256=sha256,
        pdq=None,
        pdq_quality=None,
        width=None,
        height=None,
        media_type="video",
    )


# --- export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportItem:
    item: SubmissionItem
    case_number: str  # never written to a file: see case_ref
    label: str | None
    created_at: datetime
    expires_at: datetime | None


@dataclass
class ExportSet:
    bank: str
    pdq_threshold: int
    description: str
    items: list[ExportItem]
    withheld: int  # entries not exported: no consent to exchange, withdrawn or expired
    withdrawals: list[tuple[str, str, datetime]]  # (type, SHA-256 of the value, when)
    instance_key: str = ""  # this database's instance id: keys the case references

    def case_ref(self, case_number: str) -> str:
        """A stable reference to a case for partners, that says nothing of it: an HMAC of
        the case number under this instance's id (a case number can be guessed; a partner
        can still group hashes by case and cite it back)."""
        mac = hmac.new(self.instance_key.encode(), case_number.encode(), hashlib.sha256)
        return "rempart-" + mac.hexdigest()[:20]


def write_atomic(path: Path, text: str) -> None:
    """A half-written list never replaces a good one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
