"""JSON hash lists read as a stream (ijson, C backend), so a list of a million records is
never one Python object: a StopNCII export of 1 M hashes loaded whole took 2.2 GB.

A file is read in a few passes, each in constant memory: its shape (the top-level keys,
from the first events only), its syntax (the whole file through the C parser, before
anything is imported: a malformed file is refused as a whole, as before), then each list of
records, one record at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson
import numpy as np

from rempart.exchange.consent import FormatError

HEAD_EVENTS = 20_000  # events read to tell a file's shape (the keys come first)
MAX_DEPTH = 64  # hash lists are 4 deep
BUFFER = 1 << 18


@dataclass
class Shape:
    """What the first events of a JSON file say: an object's top-level keys (with the type
    of each value: "array", "object", or the scalar itself), or an array of records (the
    keys of its first record)."""

    top: str  # "object", "array" or "other"
    keys: dict[str, Any] = field(default_factory=dict)
    first_record_keys: set[str] = field(default_factory=set)
    complete: bool = False  # the whole file was read (no key can be missing from `keys`)


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


class Guarded:
    """A binary file that counts the bytes read (for progress) and refuses JSON nested
    deeper than MAX_DEPTH before the parser sees it: ijson's cost grows with the square
    of the depth (100,000 nested brackets would take minutes). Brackets inside strings
    are not counted (quotes and backslash escapes are followed across reads); numpy keeps
    it at a few milliseconds a megabyte."""

    def __init__(self, fh: Any, limit: int = MAX_DEPTH) -> None:
        self.fh = fh
        self.limit = limit
        self.done = 0
        self.depth = 0
        self.in_string = False
        self.backslashes = 0  # at the end of the previous read

    def read(self, n: int = -1) -> bytes:
        data = bytes(self.fh.read(n))
        self.done += len(data)
        if data:
            self._scan(data)
        return data

    def _scan(self, data: bytes) -> None:
        if self.backslashes == 0 and b"\\" not in data:
            self._scan_plain(data)
            return
        a = np.frombuffer(data, dtype=np.uint8)
        idx = np.arange(len(a), dtype=np.int64)
        last = np.maximum.accumulate(np.where(a == 92, -1, idx))  # last non-backslash
        before = np.empty(len(a), dtype=np.int64)  # backslashes right before each byte
        before[0] = self.backslashes
        before[1:] = idx[:-1] - last[:-1] + np.where(last[:-1] == -1, self.backslashes, 0)
        quote = (a == 34) & (before % 2 == 0)
        quotes = np.cumsum(quote) + int(self.in_string)
        outside = (quotes % 2 == 0) & ~quote
        steps = (((a == 91) | (a == 123)) & outside).astype(np.int8) - (
            ((a == 93) | (a == 125)) & outside
        )
        depth = self.depth + np.cumsum(steps, dtype=np.int64)
        if int(depth.max()) > self.limit:
            raise TooDeep(f"JSON nested deeper than {self.limit} levels")
        self.depth = int(depth[-1])
        self.in_string = bool(quotes[-1] % 2)
        self.backslashes = int(before[-1]) + 1 if a[-1] == 92 else 0

    def _scan_plain(self, data: bytes) -> None:
        """The same, for text without backslashes (hash lists, nearly always): only the
        quotes and brackets are looked at."""
        c = np.frombuffer(data.translate(None, _NOT_SPECIAL), dtype=np.uint8)
        if not len(c):
            return
        quote = c == 34
        quotes = np.cumsum(quote, dtype=np.int64) + int(self.in_string)
        outside = (quotes & 1) == 0
        steps = (((c == 91) | (c == 123)) & outside).astype(np.int8) - (
            ((c == 93) | (c == 125)) & outside
        )
        depth = self.depth + np.cumsum(steps, dtype=np.int64)
        if int(depth.max()) > self.limit:
            raise TooDeep(f"JSON nested deeper than {self.limit} levels")
        self.depth = int(depth[-1])
        self.in_string = bool(quotes[-1] & 1)


_SPECIAL = np.zeros(256, dtype=bool)
_SPECIAL[[34, 91, 93, 123, 125]] = True  # " [ ] { }
# every other byte: deleted by bytes.translate, which keeps the special ones in one pass
# (five times faster than numpy's table lookup and mask: a second of a 229 MB list)
_NOT_SPECIAL = bytes(b for b in range(256) if not _SPECIAL[b])


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _error(path: Path, exc: Exception) -> FormatError:
    if isinstance(exc, UnicodeDecodeError):
        return FormatError(f"{path}: not UTF-8 text")
    if isinstance(exc, RecursionError | TooDeep):
        return FormatError(f"{path}: JSON nested too deeply")
    if isinstance(exc, OSError):
        return FormatError(f"{path}: read error ({exc.strerror or exc})")
    return FormatError(f"{path}: malformed JSON ({str(exc)[:200]})")


ERRORS = (
    ijson.JSONError,
    ijson.IncompleteJSONError,
    UnicodeDecodeError,
    RecursionError,
    OSError,
    ValueError,
)


def shape(path: Path) -> Shape:
    """The file's top-level shape, from its first events."""
    with _open(path) as fh:
        try:
            events = ijson.parse(Guarded(_skip_bom(fh)), use_float=True, buf_size=BUFFER)
            first = next(events, None)
            if first is None:
                raise FormatError(f"{path}: empty file")
            _, event, _ = first
            if event == "start_array":
                out = Shape("array")
                for n, (prefix, event, value) in enumerate(events):
                    if prefix == "item" and event == "map_key":
                        out.first_record_keys.add(str(value))
                    elif prefix == "item" and event == "end_map" or n > HEAD_EVENTS:
                        break
                    elif prefix == "" and event == "end_array":
                        break
                return out
            if event != "start_map":
                return Shape("other")
            out = Shape("object")
            key: str | None = None
            for n, (prefix, event, value) in enumerate(events):
                if n > HEAD_EVENTS:
                    return out
                if prefix == "" and event == "map_key":
                    key = str(value)
                elif key is not None and prefix == key:
                    if event == "start_array":
                        out.keys[key] = "array"
                    elif event == "start_map":
                        out.keys[key] = "object"
                    elif event not in ("end_array", "end_map", "map_key"):
                        out.keys[key] = value
                    key = None
            out.complete = True
            return out
        except ERRORS as exc:
            raise _error(path, exc) from exc


def check_syntax(path: Path) -> None:
    """Read the whole file through the C parser (nothing kept); FormatError when it is not
    well-formed JSON."""
    with _open(path) as fh:
        try:
            for _ in ijson.items(Guarded(_skip_bom(fh)), "\x00", buf_size=BUFFER):
                pass
        except ERRORS as exc:
            raise _error(path, exc) from exc


def records(
    path: Path, prefix: str, progress: Callable[[int], None] | None = None
) -> Iterator[Any]:
    """The values at `prefix` (e.g. "hashRecords.item"), one at a time; `progress` is told
    the bytes read so far."""
    with _open(path) as fh:
        counting = Guarded(_skip_bom(fh))
        try:
            for value in ijson.items(counting, prefix, use_float=True, buf_size=BUFFER):
                if progress is not None:
                    progress(counting.done)
                yield value
        except ERRORS as exc:  # checked before; the file changed meanwhile
            raise _error(path, exc) from exc


class _Skip:
    """A file without its UTF-8 byte-order mark."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        head = fh.read(3)
        self.pending: bytes = head[3:] if head.startswith(b"\xef\xbb\xbf") else head

    def read(self, n: int = -1) -> bytes:
        if not self.pending:
            return bytes(self.fh.read(n))
        if 0 <= n < len(self.pending):
            data, self.pending = self.pending[:n], self.pending[n:]
            return data
        data, self.pending = self.pending, b""
        return data + bytes(self.fh.read(-1 if n < 0 else n - len(data)))


def _skip_bom(fh: Any) -> Any:
    return _Skip(fh)
