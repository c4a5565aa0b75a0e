"""The scan tunes glibc's allocator once per process (scan.hashing.tune_allocator): buffers
under 32 MiB stay in the heap, which is trimmed only when 64 MiB lie free at its top (issue
22: each photo's decoded picture was otherwise mapped and page-faulted afresh)."""

from __future__ import annotations

import pytest

from rempart.scan import hashing
from rempart.scan.options import ScanOptions


class _Libc:
    def __init__(self, calls: list[tuple[int, int]]) -> None:
        self.calls = calls

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


def test_a_scan_tunes_the_allocator_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(hashing, "_tuned", False)
    monkeypatch.setattr(hashing.ctypes, "CDLL", lambda name: _Libc(calls))
    for _ in range(2):
        assert list(hashing.hash_refs([], ScanOptions(workers=1), dihedral=True)) == []
    # M_MMAP_THRESHOLD (-3) 32 MiB, then M_TRIM_THRESHOLD (-1) twice that, once
    assert calls == [(-3, 32 * 1024 * 1024), (-1, 64 * 1024 * 1024)]


def test_without_glibc_nothing_is_tuned(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> object:
        raise OSError("no C library")

    monkeypatch.setattr(hashing, "_tuned", False)
    monkeypatch.setattr(hashing.ctypes, "CDLL", missing)
    hashing.tune_allocator()  # no error
