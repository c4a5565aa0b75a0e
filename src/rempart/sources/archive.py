"""Archives: zip, tar (plain, .gz, .bz2, .xz) and 7z, read in memory, never extracted to disk.

Every media member is read into memory (up to `max_member_bytes`) and handed on as bytes;
members that are archives themselves are opened the same way, down to `max_depth` levels.
Refused and reported, naming the archive and the member: names that are absolute or climb
out (`..`), links and devices, encrypted members, members over the size limit, archives whose
members would expand past `max_total_bytes` or `max_ratio` times their compressed size (zip
bombs), and damaged or truncated archives (the members read before the damage are kept).
"""

from __future__ import annotations

import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from rempart.media.kinds import VIDEO_EXTENSIONS, media_kind, sniff
from rempart.sources.base import MediaRef, SourceProblem

ARCHIVE_SUFFIXES = (
    ".zip",
    ".tar",
    ".tgz",
    ".tar.gz",
    ".tar.bz2",
    ".tbz2",
    ".tar.xz",
    ".txz",
    ".7z",
)


@dataclass(frozen=True)
class ArchiveLimits:
    max_member_bytes: int = 512 * 1024 * 1024
    max_total_bytes: int = 8 * 1024 * 1024 * 1024
    max_ratio: float = 200.0  # uncompressed / compressed, for members over 1 MB
    max_depth: int = 3
    max_members: int = 200_000


def archive_kind(name: str, head: bytes) -> str | None:
    """zip, tar or 7z, by first bytes (then by name for tar, which has no magic at 0)."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) or (
        len(head) >= 262 and head[257:262] == b"ustar"
    ):
        lower = name.lower()
        if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) and not any(
            lower.endswith(s) for s in (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
        ):
            return None  # a lone .gz/.bz2/.xz file is not an archive of media
        return "tar"
    return None


def is_archive(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    return archive_kind(path.name, head) is not None


def _unsafe(name: str) -> str | None:
    p = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in p.parts:
        return "path climbs out of the archive (..)"
    if "\x00" in name:
        return "NUL in the name"
    return None


class _Budget:
    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.total = 0
        self.members = 0


class _TooMuch(Exception):
    pass


def _read_bounded(fh: IO[bytes], limit: int) -> bytes:
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise _TooMuch(f"more than {limit} bytes")
    return data


def iter_archive(
    path: Path, limits: ArchiveLimits | None = None, *, read_data: bool = True
) -> Iterator[MediaRef | SourceProblem]:
    """Every media member of an archive file (and of archives inside it). With `read_data`
    False, only the names of the media members at the first level are listed (to count)."""
    limits = limits or ArchiveLimits()
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        yield SourceProblem(str(path), "unreadable", f"{path}: cannot read ({exc.strerror})")
        return
    kind = archive_kind(path.name, head)
    if kind is None:
        yield SourceProblem(str(path), "not-an-archive", f"{path}: not a zip, tar or 7z archive")
        return
    if not read_data:
        yield from _list_names(path, kind)
        return
    budget = _Budget(limits)
    with path.open("rb") as fh:
        yield from _walk(fh, kind, str(path), path, 1, budget)


def _list_names(path: Path, kind: str) -> Iterator[MediaRef | SourceProblem]:
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir()]
        elif kind == "tar":
            with tarfile.open(path, mode="r|*") as tf:
                names = [i.name for i in tf if i.isfile()]
        else:
            return
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError):
        return
    for name in names:
        member = Path(PurePosixPath(name).name or "member")
        if media_kind(member) is not None:
            yield MediaRef(f"{path}!{name}", member, {})


def _walk(
    fh: IO[bytes], kind: str, label: str, outer: Path, depth: int, budget: _Budget
) -> Iterator[MediaRef | SourceProblem]:
    try:
        if kind == "zip":
            yield from _walk_zip(fh, label, outer, depth, budget)
        elif kind == "tar":
            yield from _walk_tar(fh, label, outer, depth, budget)
        else:
            yield from _walk_7z(fh, label, outer, depth, budget)
    except (
        zipfile.BadZipFile,
        tarfile.TarError,
        EOFError,
        OSError,
        lzma.LZMAError,
        zlib.error,
        ValueError,
    ) as exc:
        yield SourceProblem(
            label,
            "corrupt-archive",
            f"{label}: damaged or truncated archive ({str(exc)[:200]}); members "
            "read before the damage are scanned",
        )


def _member(
    name: str, data: bytes, label: str, outer: Path, depth: int, budget: _Budget
) -> Iterator[MediaRef | SourceProblem]:
    locator = f"{label}!{name}"
    nested = archive_kind(name, data[:512])
    if nested is not None:
        if depth >= budget.limits.max_depth:
            yield SourceProblem(
                locator,
                "archive-too-deep",
                f"{locator}: archive nested deeper than "
                f"{budget.limits.max_depth} levels; not opened",
            )
            return
        yield from _walk(io.BytesIO(data), nested, locator, outer, depth + 1, budget)
        return
    member_path = Path(PurePosixPath(name).name or "member")
    kind = sniff(data[:16])
    if kind is None and member_path.suffix.lower() in VIDEO_EXTENSIONS:
        kind = "video"
    if kind is None and media_kind(member_path) is None:
        return  # not media (text, documents...)
    prov = {"source": "archive", "archive": str(outer), "member": name, "container": label}
    yield MediaRef(locator, member_path, prov, data)


def _check_member(
    name: str, size: int, compressed: int | None, label: str, budget: _Budget
) -> SourceProblem | None:
    locator = f"{label}!{name}"
    limits = budget.limits
    budget.members += 1
    if budget.members > limits.max_members:
        return SourceProblem(
            locator,
            "too-many-members",
            f"{label}: more than {limits.max_members} members; the rest is not read",
        )
    if (why := _unsafe(name)) is not None:
        return SourceProblem(locator, "unsafe-name", f"{locator}: {why}; refused")
    if size > limits.max_member_bytes:
        return SourceProblem(
            locator,
            "too-large",
            f"{locator}: {size} bytes, over the {limits.max_member_bytes} limit",
        )
    if compressed is not None and size > 1 << 20 and size > limits.max_ratio * max(1, compressed):
        return SourceProblem(
            locator,
            "archive-bomb",
            f"{locator}: expands {size / max(1, compressed):.0f} times "
            f"({compressed} -> {size} bytes): a decompression bomb; refused",
        )
    if budget.total + size > limits.max_total_bytes:
        return SourceProblem(
            locator,
            "archive-bomb",
            f"{label}: members expand past {limits.max_total_bytes} bytes in "
            "all; the rest is not read",
        )
    budget.total += size
    return None


def _walk_zip(
    fh: IO[bytes], label: str, outer: Path, depth: int, budget: _Budget
) -> Iterator[MediaRef | SourceProblem]:
    with zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            problem = _check_member(
                info.filename, info.file_size, info.compress_size, label, budget
            )
            if problem is None and info.flag_bits & 0x1:
                problem = SourceProblem(
                    f"{label}!{info.filename}",
                    "encrypted",
                    f"{label}!{info.filename}: encrypted member; cannot be "
                    "read without its password",
                )
            if problem is None and (info.external_attr >> 16) & 0o170000 == 0o120000:
                problem = SourceProblem(
                    f"{label}!{info.filename}",
                    "link-member",
                    f"{label}!{info.filename}: a symbolic link; not followed",
                )
            if problem is not None:
                yield problem
                if problem.reason in ("too-many-members",) or "in all" in problem.detail:
                    return
                continue
            try:
                with zf.open(info) as member:
                    data = _read_bounded(member, budget.limits.max_member_bytes)
            except _TooMuch:
                yield SourceProblem(
                    f"{label}!{info.filename}",
                    "archive-bomb",
                    f"{label}!{info.filename}: expands past its declared size; refused",
                )
                continue
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                yield SourceProblem(
                    f"{label}!{info.filename}",
                    "corrupt-archive",
                    f"{label}!{info.filename}: damaged member ({exc})",
                )
                continue
            yield from _member(info.filename, data, label, outer, depth, budget)


def _walk_tar(
    fh: IO[bytes], label: str, outer: Path, depth: int, budget: _Budget
) -> Iterator[MediaRef | SourceProblem]:
    with tarfile.open(fileobj=fh, mode="r|*") as tf:  # streaming: members in order
        for info in tf:
            if info.isdir():
                continue
            locator = f"{label}!{info.name}"
            if not info.isfile():
                kind = "a link" if info.issym() or info.islnk() else "not a regular file"
                yield SourceProblem(locator, "link-member", f"{locator}: {kind}; not followed")
                continue
            problem = _check_member(info.name, info.size, None, label, budget)
            if problem is not None:
                yield problem
                if problem.reason == "too-many-members" or "in all" in problem.detail:
                    return
                continue
            member = tf.extractfile(info)
            if member is None:
                continue
            data = _read_bounded(member, budget.limits.max_member_bytes)
            if len(data) < info.size:
                yield SourceProblem(locator, "corrupt-archive", f"{locator}: cut short")
                return
            yield from _member(info.name, data, label, outer, depth, budget)


def _walk_7z(
    fh: IO[bytes], label: str, outer: Path, depth: int, budget: _Budget
) -> Iterator[MediaRef | SourceProblem]:
    try:
        import py7zr
        import py7zr.io
    except ImportError:
        yield SourceProblem(label, "unsupported-archive", f"{label}: 7z support not installed")
        return
    try:
        with py7zr.SevenZipFile(fh, mode="r") as z:
            if z.needs_password():
                yield SourceProblem(
                    label,
                    "encrypted",
                    f"{label}: encrypted 7z archive; cannot be read without its password",
                )
                return
            infos = [i for i in z.list() if not i.is_directory]
            wanted: list[str] = []
            for info in infos:
                problem = _check_member(
                    info.filename, info.uncompressed, info.compressed, label, budget
                )
                if problem is not None:
                    yield problem
                    if problem.reason == "too-many-members" or "in all" in problem.detail:
                        break  # the members accepted so far are still read
                    continue
                wanted.append(info.filename)
            for start in range(0, len(wanted), 32):  # bounded memory: 32 members at a time
                z.reset()
                factory = py7zr.io.BytesIOFactory(budget.limits.max_member_bytes + 1)
                z.extract(targets=wanted[start : start + 32], factory=factory)
                for name, product in factory.products.items():
                    product.seek(0)
                    data = product.read()
                    yield from _member(name, data, label, outer, depth, budget)
    except (
        py7zr.exceptions.Bad7zFile,
        py7zr.exceptions.PasswordRequired,
        py7zr.exceptions.UnsupportedCompressionMethodError,
    ) as exc:
        yield SourceProblem(label, "corrupt-archive", f"{label}: cannot read 7z ({exc})")
