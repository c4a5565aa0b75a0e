"""The backup file's container: an encrypted, streamed, length-framed file of named members
and a closing manifest. rempart.ops.backup decides what goes in (the database, the keys,
the home folder's files) and how it is restored; this module only writes and reads the
sealed stream, and finds any change to it.

Why a module of its own: the format is a contract with every backup ever made (a file made
years ago must still verify and restore), so it lives apart from what a backup holds, and
tests/ops/test_container.py pins its bytes.

The file: MAGIC, a 4-byte big-endian length and a JSON header (format, version, scrypt
parameters and salt, a passphrase check value, the record size), then records, each a
4-byte length and AES-256-GCM ciphertext under the scrypt-derived key, with the record's
number as nonce and the header's SHA-256 plus a "last record" flag as associated data. A
record's first plaintext byte is its kind: B (a member begins: its name), D (at most CHUNK
bytes of it), E (it ends), M (the manifest: JSON listing every member's name, size and
SHA-256; the last record). A record changed, dropped, moved, cut off or followed by more,
a member changed, dropped or added, and a wrong passphrase are each a BackupError naming
the file; a large member is streamed through, never held in memory."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from rempart.errors import SetupError

FORMAT = "rempart-backup"
VERSION = 1
MAGIC = b"REMPART-BACKUP\n"
CHUNK = 1 << 20  # plaintext bytes per record
SCRYPT_N = 1 << 17  # 128 MiB of memory, about half a second: slow to guess
SCRYPT_MAX_N = 1 << 20  # a header asking for more is refused (memory)
_MAX_HEADER = 4096
_TAG = 16
Progress = Callable[[str, int, int], None]  # (what, done, total; total 0: unknown)


class BackupError(SetupError):
    """A backup that cannot be read: wrong passphrase, truncated, altered, or newer."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    sha256: str


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _check_value(key: bytes) -> str:
    return hmac.new(key, b"rempart-backup-passphrase-check", hashlib.sha256).hexdigest()[:32]


# -- writing --------------------------------------------------------------------------------


class Sealer:
    """Writes the header, then sealed records. `salt` is for tests (fixed bytes); a backup
    always draws a new one."""

    def __init__(self, fh: IO[bytes], passphrase: str, n: int, salt: bytes | None = None) -> None:
        salt = os.urandom(16) if salt is None else salt
        self.key = _derive(passphrase, salt, n, 8, 1)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "kdf": {"name": "scrypt", "n": n, "r": 8, "p": 1, "salt": salt.hex()},
            "check": _check_value(self.key),
            "chunk": CHUNK,
        }
        raw = json.dumps(header, sort_keys=True).encode()
        fh.write(MAGIC + struct.pack(">I", len(raw)) + raw)
        self.aad = hashlib.sha256(MAGIC + raw).digest()
        self.aead = AESGCM(self.key)
        self.fh = fh
        self.seq = 0

    def record(self, kind: bytes, payload: bytes, final: bool = False) -> None:
        nonce = self.seq.to_bytes(12, "big")
        sealed = self.aead.encrypt(nonce, kind + payload, self.aad + (b"\1" if final else b"\0"))
        self.fh.write(struct.pack(">I", len(sealed)) + sealed)
        self.seq += 1


class Writer:
    """Members, each streamed in records of at most CHUNK bytes, then the manifest."""

    def __init__(self, sealer: Sealer, progress: Progress | None = None) -> None:
        self.sealer = sealer
        self.members: list[Member] = []
        self.progress = progress

    def add(self, name: str, chunks: Iterable[bytes], total: int = 0) -> Member:
        self.sealer.record(b"B", name.encode("utf-8"))
        digest = hashlib.sha256()
        size = 0
        buffer = b""
        for chunk in chunks:
            buffer += chunk
            while len(buffer) >= CHUNK:
                piece, buffer = buffer[:CHUNK], buffer[CHUNK:]
                digest.update(piece)
                size += len(piece)
                self.sealer.record(b"D", piece)
                if self.progress:
                    self.progress(name, size, total)
        if buffer:
            digest.update(buffer)
            size += len(buffer)
            self.sealer.record(b"D", buffer)
        self.sealer.record(b"E", b"")
        if self.progress:
            self.progress(name, size, size)
        member = Member(name, size, digest.hexdigest())
        self.members.append(member)
        return member

    def finish(self, manifest: dict[str, Any]) -> None:
        """The manifest, the last record (its "members" list: `self.members`)."""
        self.sealer.record(b"M", json.dumps(manifest).encode(), final=True)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


# -- reading --------------------------------------------------------------------------------


def records(fh: IO[bytes], where: Path, passphrase: str) -> Iterator[tuple[bytes, bytes, bool]]:
    """(kind, payload, final) of each record, checked; BackupError at the first problem."""
    if fh.read(len(MAGIC)) != MAGIC:
        raise BackupError(f"{where}: not a Rempart backup")
    head = fh.read(4)
    if len(head) < 4:
        raise BackupError(f"{where}: truncated (the header is cut off)")
    (length,) = struct.unpack(">I", head)
    if length > _MAX_HEADER:
        raise BackupError(f"{where}: altered (impossible header length)")
    raw = fh.read(length)
    try:
        header = json.loads(raw)
        kdf = header["kdf"]
        n, r, p, salt = int(kdf["n"]), int(kdf["r"]), int(kdf["p"]), bytes.fromhex(kdf["salt"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{where}: altered or truncated (unreadable header)") from exc
    if header.get("format") != FORMAT or kdf.get("name") != "scrypt":
        raise BackupError(f"{where}: not a Rempart backup")
    if header.get("version") != VERSION:
        raise BackupError(
            f"{where}: backup format {header.get('version')} is newer than this Rempart "
            f"reads ({VERSION}): restore it with the Rempart that made it"
        )
    if (
        not (1 << 10 <= n <= SCRYPT_MAX_N)
        or n & (n - 1)
        or not (0 < r <= 32 and 0 < p <= 16)
        or 128 * n * r > 1 << 30  # at most 1 GiB of memory, whatever the header says
    ):
        raise BackupError(f"{where}: altered (scrypt parameters out of range)")
    key = _derive(passphrase, salt, n, r, p)
    if not hmac.compare_digest(str(header.get("check", "")), _check_value(key)):
        raise BackupError(f"{where}: wrong passphrase (or an altered header)")
    aead = AESGCM(key)
    aad = hashlib.sha256(MAGIC + raw).digest()
    seq = 0
    limit = CHUNK + 1 + _TAG + 64
    while True:
        size = fh.read(4)
        if not size:
            raise BackupError(f"{where}: truncated (it ends before its manifest)")
        if len(size) < 4:
            raise BackupError(f"{where}: truncated")
        (length,) = struct.unpack(">I", size)
        if length > limit or length < _TAG + 1:
            raise BackupError(f"{where}: altered (record {seq} has an impossible length)")
        sealed = fh.read(length)
        if len(sealed) < length:
            raise BackupError(f"{where}: truncated (record {seq} is cut off)")
        nonce = seq.to_bytes(12, "big")
        plain: bytes | None = None
        final = False
        for flag in (b"\0", b"\1"):
            try:
                plain = aead.decrypt(nonce, sealed, aad + flag)
                final = flag == b"\1"
                break
            except InvalidTag:
                continue
        if plain is None:
            raise BackupError(f"{where}: altered (record {seq} does not authenticate)")
        if final and fh.read(1):
            raise BackupError(f"{where}: altered (data after its manifest)")
        yield plain[:1], plain[1:], final
        seq += 1
        if final:
            return


def _listed(doc: Any, where: Path) -> dict[str, Member]:
    try:
        return {
            str(m["name"]): Member(str(m["name"]), int(m["size"]), str(m["sha256"]))
            for m in doc["members"]
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{where}: its manifest is malformed ({exc})") from exc


def read(
    path: Path,
    passphrase: str,
    *,
    check_name: Callable[[str, Path], None] | None = None,
    sink: Callable[[str], Callable[[bytes], Any] | None] | None = None,
    progress: Progress | None = None,
) -> Any:
    """Decrypt and check the whole file; its manifest (the JSON document), once every
    member read matches what it lists. `check_name(name, path)` refuses a member's name
    (BackupError); `sink(name)` gives where a member's bytes go (None: nowhere)."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from exc
    total = path.stat().st_size
    seen: dict[str, Member] = {}
    with fh:
        current: str | None = None
        digest = hashlib.sha256()
        size = 0
        target: Callable[[bytes], Any] | None = None
        for kind, payload, final in records(fh, path, passphrase):
            if kind == b"B" and current is None and not final:
                current = payload.decode("utf-8", "replace")
                if check_name:
                    check_name(current, path)
                if current in seen:
                    raise BackupError(f"{path}: altered ({current} twice)")
                digest, size = hashlib.sha256(), 0
                target = sink(current) if sink else None
            elif kind == b"D" and current is not None and not final:
                digest.update(payload)
                size += len(payload)
                if target:
                    target(payload)
                if progress:
                    progress("reading", fh.tell(), total)
            elif kind == b"E" and current is not None and not final:
                seen[current] = Member(current, size, digest.hexdigest())
                current, target = None, None
            elif kind == b"M" and final and current is None:
                try:
                    doc = json.loads(payload)
                except ValueError as exc:
                    raise BackupError(f"{path}: its manifest is malformed ({exc})") from exc
                listed = _listed(doc, path)
                if listed != seen:
                    bad = sorted(set(listed) ^ set(seen)) or sorted(
                        n for n in listed if listed[n] != seen.get(n)
                    )
                    raise BackupError(
                        f"{path}: altered (does not match its manifest: {', '.join(bad[:5])})"
                    )
                if progress:
                    progress("reading", total, total)
                return doc
            else:
                raise BackupError(f"{path}: altered (records out of order)")
    raise BackupError(f"{path}: truncated")  # pragma: no cover (the reader raises first)
