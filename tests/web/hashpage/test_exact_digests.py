"""exact.js (her page's MD5 and SHA-256, streamed) against hashlib: every padding boundary
(0, 1, 55, 56, 63, 64, 65 bytes...), pieces that end at odd offsets inside a block, a 50 MB
file read in chunks, and a file that vanishes while it is read (a clear "read-failed", not a
wrong digest), and cancel between chunks. The JavaScript runs in Node
(tests/web/hashpage/exact_digest.mjs)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tests.web.hashpage import nodejs

SCRIPT = Path(__file__).with_name("exact_digest.mjs")
LENGTHS = [0, 1, 2, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 100_003]


def run_node(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return nodejs.run_node(SCRIPT, jobs)


def expected(data: bytes) -> dict[str, str]:
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


def write(path: Path, size: int, seed: int) -> bytes:
    data = bytes((seed * 131 + i * 7 + (i >> 8)) & 255 for i in range(size))
    path.write_bytes(data)
    return data


def test_every_padding_boundary_in_one_piece_and_in_odd_pieces(tmp_path: Path) -> None:
    jobs, datas = [], []
    for k, size in enumerate(LENGTHS):
        data = write(tmp_path / f"{k}.bin", size, k)
        for chunks in ([], [1] * 70, [3, 61, 1, 63, 64, 65, 7], [55, 1, 8], [64, 64]):
            jobs.append({"mode": "update", "path": str(tmp_path / f"{k}.bin"), "chunks": chunks})
            datas.append(data)
    results = run_node(jobs)
    for job, data, got in zip(jobs, datas, results, strict=True):
        assert got == expected(data), (len(data), job["chunks"])


def test_a_50_mb_file_through_digest_file_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    data = b"".join(bytes([i]) + block[1:] for i in range(50)) + b"tail!"
    path.write_bytes(data)
    small = tmp_path / "small.bin"
    small_data = write(small, 1_000_001, 3)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    jobs = [
        {"mode": "file", "path": str(path), "chunkBytes": 4 << 20},
        {"mode": "file", "path": str(small), "chunkBytes": 4093},  # odd chunk boundaries
        {"mode": "file", "path": str(empty), "chunkBytes": 4 << 20},
        {"mode": "speed", "megabytes": 50},
    ]
    big, odd, none, speed = run_node(jobs)
    assert {k: big[k] for k in ("md5", "sha256")} == expected(data)
    assert big["progress"][-1] == [len(data), len(data)]
    assert len(big["progress"]) == -(-len(data) // (4 << 20))
    assert {k: odd[k] for k in ("md5", "sha256")} == expected(small_data)
    assert {k: none[k] for k in ("md5", "sha256")} == expected(b"")
    print(f"\nexact.js in Node: MD5 {speed['md5']:.0f} MB/s, SHA-256 {speed['sha256']:.0f} MB/s")


def test_a_file_that_vanishes_mid_read_is_a_read_failure(tmp_path: Path) -> None:
    path = tmp_path / "going.bin"
    write(path, 300_000, 5)
    (got,) = run_node(
        [{"mode": "file", "path": str(path), "chunkBytes": 65536, "vanishAfter": 65536}]
    )
    assert got["error"] == "read-failed", got
    assert "md5" not in got
    assert got["progress"][0] == [65536, 300_000]


def test_cancel_stops_between_chunks(tmp_path: Path) -> None:
    path = tmp_path / "long.bin"
    write(path, 500_000, 8)
    (got,) = run_node(
        [{"mode": "file", "path": str(path), "chunkBytes": 100_000, "cancelAfter": 200_000}]
    )
    assert got["error"] == "cancelled", got
    assert got["progress"][-1] == [200_000, 500_000]
