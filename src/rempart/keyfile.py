"""Secret key files: 256-bit keys kept in files only their owner can read.

Why one module: the face-template key, the mail key, the preserved-media key, the
withdrawal ledger's key and the pending keys of a rotation are all the same kind of file,
and each had grown its own copy of the same three rules, which drifted (one chmod-ed its
folder, one tolerated a key made meanwhile by another process, one fsynced). The rules:

- made with O_EXCL and mode 0600 (never world-readable, even for an instant), in a folder
  made 0700 when this module makes it; a key made meanwhile by another process is read
  back instead of replaced;
- refused when other users of the machine can read it (the caller's error class and its
  advice: rotate, change the password...), never used silently;
- refused when it is not exactly 32 bytes (a truncated or foreign file).

`durable=True` fsyncs the file and its folder before returning, for keys without which
existing data could not be read again (the ledger's, a rotation's pending key).

At the bottom of the layers beside errors.py: faces/ (below the store) uses it too.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

from rempart.errors import SetupError

KEY_BYTES = 32


def exposed(path: Path) -> int | None:
    """The file's mode when other users can read or write it, else None."""
    mode = stat.S_IMODE(path.stat().st_mode)
    return mode if mode & 0o077 else None


def check_private(path: Path, error: type[SetupError] = SetupError, advice: str = "") -> None:
    """`error` when other users of the machine can read the key at `path`."""
    mode = exposed(path)
    if mode is not None:
        raise error(
            f"{path}: the key is readable by other users of this machine (mode {mode:o}); "
            f"refusing to use it: fix with chmod 600 {path}" + (f" ({advice})" if advice else "")
        )


def read_key(path: Path, error: type[SetupError] = SetupError, advice: str = "") -> bytes:
    """The 256-bit key at `path`, checked private and whole (`error` otherwise)."""
    check_private(path, error, advice)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise error(f"{path}: not a 256-bit key ({len(key)} bytes)")
    return key


def load_or_create(path: Path, error: type[SetupError] = SetupError, advice: str = "") -> bytes:
    """The key at `path`, made on first use (several workers starting at once read the
    same one)."""
    if path.exists():
        return read_key(path, error, advice)
    return create_key(path, error=error, advice=advice)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_key(
    path: Path,
    key: bytes | None = None,
    *,
    error: type[SetupError] = SetupError,
    advice: str = "",
    durable: bool = False,
) -> bytes:
    """Write `key` (a new random one when None) at `path`, 0600. When a key is already there
    (made meanwhile by another process), that key is returned instead; `error` when it
    differs from a `key` given (never replaced)."""
    if key is not None and len(key) != KEY_BYTES:
        raise ValueError("a key is 32 bytes")
    folder = path.parent
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)  # mkdir's mode passes through the umask
    new = key if key is not None else secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the other process may be writing it this very moment
            if path.stat().st_size >= KEY_BYTES:
                break
            time.sleep(0.01)
        there = read_key(path, error, advice)
        if key is not None and there != key:
            raise error(f"{path}: another key is already there") from None
        return there
    with os.fdopen(fd, "wb") as fh:
        fh.write(new)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    if durable:
        fsync_dir(folder)
    return new
