"""The backup container's format is a contract with every backup already made: a file of
fixed inputs (salt, passphrase, members, manifest) must come out byte for byte as the
digest below, which the code before rempart.ops.container was split out of backup.py
produced; and each kind of damage to the sealed stream is found, naming the file."""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from rempart.ops import container
from rempart.ops.container import BackupError, Member

PASSPHRASE = "a fixed passphrase"
SALT = bytes(range(16))
# sha256 and size of `_made()`'s bytes, as the backup code before the split wrote them
DIGEST = "91db91615ed03b93902cd70742810f2d1b6a94beb13837e2dd6341d185053bb0"
SIZE = 1077049
BIG = b"x" * 1000 + bytes(range(256)) * 4200  # more than one record (CHUNK)


def _made(manifest_extra: dict[str, object] | None = None) -> bytes:
    fh = io.BytesIO()
    writer = container.Writer(container.Sealer(fh, PASSPHRASE, 1 << 10, salt=SALT))
    writer.add("database.sqlite", [b"x" * 1000, bytes(range(256)) * 4200])
    writer.add("notices/a.txt", [b"hello"])
    writer.add("keys/empty", [])
    members = [m.__dict__ for m in writer.members]
    writer.finish({"members": members, "x": 1, **(manifest_extra or {})})
    return fh.getvalue()


def _records(data: bytes) -> tuple[bytes, list[bytes]]:
    """The plain header and each length-framed record, as bytes."""
    start = len(container.MAGIC) + 4 + struct.unpack(">I", data[15:19])[0]
    head, rest, records = data[:start], data[start:], []
    while rest:
        n = struct.unpack(">I", rest[:4])[0]
        records.append(rest[: 4 + n])
        rest = rest[4 + n :]
    return head, records


def test_same_bytes_as_before_and_read_back(tmp_path: Path) -> None:
    data = _made()
    assert (hashlib.sha256(data).hexdigest(), len(data)) == (DIGEST, SIZE)
    path = tmp_path / "c.bak"
    path.write_bytes(data)
    got: dict[str, bytearray] = {}

    def sink(name: str) -> Callable[[bytes], object]:
        got[name] = bytearray()
        return got[name].extend

    doc = container.read(path, PASSPHRASE, sink=sink)
    assert doc["x"] == 1
    assert got == {"database.sqlite": BIG, "notices/a.txt": b"hello", "keys/empty": b""}
    assert (
        doc["members"][1]
        == Member("notices/a.txt", 5, hashlib.sha256(b"hello").hexdigest()).__dict__
    )


def test_each_kind_of_damage_is_found(tmp_path: Path) -> None:
    data = _made()
    head, records = _records(data)
    assert len(records) == 10  # 3 x (begin, data.., end), one member in two data records, M
    other = _made({"members": [{"name": "keys/empty", "size": 0, "sha256": "0" * 64}]})
    cases = {
        "wrong passphrase": (data, "wrong passphrase", "another passphrase"),
        "changed": (
            data[:-40] + bytes([data[-40] ^ 1]) + data[-39:],
            "does not authenticate",
            None,
        ),
        "dropped": (head + b"".join(records[:2] + records[3:]), "does not authenticate", None),
        "reordered": (
            head + b"".join(records[:1] + records[2:3] + records[1:2] + records[3:]),
            "does not authenticate",
            None,
        ),
        "cut short": (data[:-10], "truncated", None),
        "no manifest": (head + b"".join(records[:-1]), "ends before its manifest", None),
        "extended": (data + b"\0", "data after its manifest", None),
        "member not listed": (other, "does not match its manifest", None),
    }
    for name, (bad, says, passphrase) in cases.items():
        path = tmp_path / f"{name}.bak"
        path.write_bytes(bad)
        with pytest.raises(BackupError, match=says) as info:
            container.read(path, passphrase or PASSPHRASE)
        assert str(path) in str(info.value), name
