"""Generator metadata: the text that image generators write into their files.

Why: AUTOMATIC1111/Forge write their settings in a PNG `parameters` text chunk, ComfyUI its
graph in `prompt`/`workflow`, InvokeAI in `invokeai_metadata` (older: `sd-metadata`), and
some tools name themselves in EXIF Software/Make/Model. Such text is specific but unsigned
and easily added or stripped, so a match is a `weak` finding, and its absence says nothing.
What to look for lives in rempart/data/generators.toml, a file a non-programmer edits.

PNG chunks are read by our own bounded reader rather than Pillow's: a chunk that claims more
bytes than the file holds, a compressed zTXt/iTXt that inflates past a limit (a
decompression bomb), a truncated file or too many chunks are refused and reported. Only the
matched fragment (at most 80 characters) goes into the evidence, never a whole prompt.
"""

from __future__ import annotations

import re
import struct
import tomllib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Literal, cast

from rempart.signals.synthetic.base import Finding, Indicates, Limits, Unreadable

GENERATORS_FILE = Path(__file__).resolve().parents[2] / "data" / "generators.toml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
EXCERPT_CHARS = 80
# EXIF tags read for the `exif` places of generators.toml
EXIF_TAGS = {"Software": 0x0131, "Make": 0x010F, "Model": 0x0110}

Where = Literal["png-text", "exif", "xmp"]


@dataclass(frozen=True)
class Generator:
    """One line of generators.toml: a generator, where it writes, what to match."""

    name: str
    where: Where
    key: str
    pattern: re.Pattern[str]
    indicates: Indicates


def load_generators(path: Path = GENERATORS_FILE) -> tuple[Generator, ...]:
    """The generators file, checked: an entry with an unknown place, an unknown `indicates`
    or a pattern that does not compile is refused with its name (Unreadable)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise Unreadable(f"generators file {path}: {exc}") from exc
    out: list[Generator] = []
    for n, entry in enumerate(data.get("generator", []), 1):
        name = str(entry.get("name", f"entry {n}"))
        where = entry.get("where")
        indicates = entry.get("indicates", "ai-generated")
        if where not in ("png-text", "exif", "xmp") or indicates not in (
            "ai-generated",
            "ai-modified",
        ):
            raise Unreadable(f"generators file {path}: {name}: bad where or indicates")
        try:
            pattern = re.compile(str(entry.get("pattern", "")), re.IGNORECASE)
        except re.error as exc:
            raise Unreadable(f"generators file {path}: {name}: bad pattern: {exc}") from exc
        out.append(
            Generator(
                name,
                cast(Where, where),
                str(entry.get("key", "")),
                pattern,
                cast(Indicates, indicates),
            )
        )
    return tuple(out)


@lru_cache(maxsize=2)
def _generators(path: Path) -> tuple[Generator, ...]:
    return load_generators(path)


def _inflate(data: bytes, limit: int, what: str) -> bytes:
    """zlib data inflated to at most `limit` bytes; more is a bomb, refused."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise Unreadable(f"{what}: corrupt compressed text ({exc})") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise Unreadable(f"{what}: compressed text inflates past {limit} bytes (refused)")
    return out


def png_chunks(fh: BinaryIO, limits: Limits) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each text chunk (tEXt, zTXt, iTXt) of a PNG, other chunks skipped by
    seeking; refuses a chunk whose declared size runs past the file's end or the limit, a
    truncated header, and more than limits.max_chunks chunks."""
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(0)
    if fh.read(8) != PNG_SIGNATURE:
        raise Unreadable("not a PNG")
    for _ in range(limits.max_chunks):
        pos = fh.tell()
        header = fh.read(8)
        if not header:
            return  # no IEND: tolerated, as decoders do
        if len(header) < 8:
            raise Unreadable(f"PNG truncated at byte {pos}")
        length, ctype = struct.unpack(">I4s", header)
        left = size - pos - 12
        if length > left:
            raise Unreadable(
                f"PNG chunk {ctype.decode('latin-1')!r} at byte {pos} claims {length} bytes, "
                f"only {max(left, 0)} left"
            )
        if ctype == b"IEND":
            return
        if ctype in TEXT_CHUNKS:
            if length > limits.max_chunk_bytes:
                raise Unreadable(
                    f"PNG text chunk at byte {pos}: {length} bytes, over {limits.max_chunk_bytes}"
                )
            data = fh.read(length)
            fh.seek(4, 1)  # CRC
            yield ctype, data
        else:
            fh.seek(length + 4, 1)
    raise Unreadable(f"PNG has more than {limits.max_chunks} chunks (refused)")


def png_text(
    path: Path, limits: Limits, problems: list[str] | None = None
) -> list[tuple[str, str]]:
    """The PNG's text entries (keyword, text), compressed ones inflated within the limit.
    With `problems`, a refused chunk (a bomb, a lying size) is recorded there and the
    entries read so far (and, past a bomb, after it) are still returned; without, it
    raises Unreadable."""
    entries: list[tuple[str, str]] = []
    try:
        _read_text(path, limits, entries, problems)
    except Unreadable as exc:
        if problems is None:
            raise
        problems.append(str(exc))
    return entries


def _read_text(
    path: Path, limits: Limits, entries: list[tuple[str, str]], problems: list[str] | None
) -> None:
    with path.open("rb") as fh:
        for ctype, data in png_chunks(fh, limits):
            key, sep, rest = data.partition(b"\x00")
            if not sep:
                continue
            try:
                entries.append(_entry(ctype, key, rest, limits))
            except Unreadable as exc:
                if problems is None:
                    raise
                problems.append(str(exc))


def _entry(ctype: bytes, key: bytes, rest: bytes, limits: Limits) -> tuple[str, str]:
    """One text chunk's (keyword, text); compressed text inflated within the limit."""
    keyword = key.decode("latin-1")[:79]
    what = f"PNG {ctype.decode()} {keyword!r}"
    if ctype == b"tEXt":
        return keyword, rest[: limits.max_text_bytes].decode("latin-1")
    if ctype == b"zTXt":
        return keyword, _inflate(rest[1:], limits.max_text_bytes, what).decode("latin-1")
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        return keyword, ""
    compressed = rest[0] == 1
    _lang, _, rest2 = rest[2:].partition(b"\x00")
    _translated, _, body = rest2.partition(b"\x00")
    raw = _inflate(body, limits.max_text_bytes, what) if compressed else body
    return keyword, raw[: limits.max_text_bytes].decode("utf-8", "replace")


def exif_values(path: Path) -> dict[str, str]:
    """EXIF Software/Make/Model (Pillow reads the EXIF block only, no pixels)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            exif = image.getexif()
    except Image.DecompressionBombError as exc:
        raise Unreadable(f"image too large to read its EXIF: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error):
        return {}
    out: dict[str, str] = {}
    for name, tag in EXIF_TAGS.items():
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and value.strip():
            out[name] = value.strip("\x00 ")[:500]
    return out


def _match(generator: Generator, place: str, text: str) -> Finding | None:
    found = generator.pattern.search(text)
    if not found:
        return None
    return Finding(
        "generator-metadata",
        generator.indicates,
        "weak",
        {"generator": generator.name, "where": place, "matched": found.group(0)[:EXCERPT_CHARS]},
    )


def match_entries(
    generators: tuple[Generator, ...], where: Where, entries: list[tuple[str, str]]
) -> list[Finding]:
    """Findings for the (key, text) entries read from one place: one per generator at most."""
    findings: list[Finding] = []
    for generator in generators:
        if generator.where != where:
            continue
        for key, text in entries:
            if key.lower() != generator.key.lower():
                continue
            finding = _match(generator, f"{where}:{key}", text)
            if finding:
                findings.append(finding)
                break
    return findings


def detect(path: Path, kind: str, limits: Limits) -> list[Finding]:
    """Generator metadata in PNG text chunks and EXIF (XMP CreatorTool: see xmp.py)."""
    generators = _generators(GENERATORS_FILE)
    findings: list[Finding] = []
    problems: list[str] = []
    if kind == "png":
        findings += match_entries(generators, "png-text", png_text(path, limits, problems))
    if kind in ("jpeg", "png", "webp", "tiff"):
        try:
            findings += match_entries(generators, "exif", list(exif_values(path).items()))
        except Unreadable as exc:
            problems.append(str(exc))
    if problems:
        raise Unreadable("; ".join(problems), findings)
    return findings
