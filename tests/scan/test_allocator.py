"""The hashing loop tunes glibc's allocator once per process (scan.allocator, called by
scan.hashing.hash_refs and by each pool worker's initializer, since a forkserver's workers
do not inherit the setting): buffers under 32 MiB stay in the heap (issue 22: each photo's
decoded picture was otherwise mapped and page-faulted afresh)."""

from __future__ import annotations

import ctypes

import pytest

from rempart.scan import allocator, hashing
from rempart.scan.options import ScanOptions


class _Mallopt:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


class _Libc:
    def __init__(self) -> None:
        self.mallopt = _Mallopt()


def test_hashing_tunes_the_allocator_once(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = _Libc()
    monkeypatch.setattr(allocator, "_tuned", None)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    for _ in range(2):
        assert list(hashing.hash_refs([], ScanOptions(workers=1), dihedral=True)) == []
    # M_MMAP_THRESHOLD (-3) 32 MiB, then M_TRIM_THRESHOLD (-1) twice that, once
    assert libc.mallopt.calls == [(-3, 32 * 1024 * 1024), (-1, 64 * 1024 * 1024)]


def test_a_pool_worker_tunes_it_too(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = _Libc()
    monkeypatch.setattr(allocator, "_tuned", None)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    monkeypatch.setattr(hashing, "_video_events", None)
    hashing._init_worker(None)  # type: ignore[arg-type]  # the queue is only stored
    assert len(libc.mallopt.calls) == 2
