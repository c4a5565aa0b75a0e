"""glibc's allocator thresholds for the processes that hash: the scan process, the process
pool's workers (forked from it, they inherit the setting) and Dask's workers.

Why: a decoded picture is a few MB. glibc maps each allocation above its mmap threshold
afresh (and zeroes it: page faults) and gives it back on free; the threshold starts at
128 KiB and only rises after such a buffer is freed, and Dask's nanny starts its workers with
MALLOC_TRIM_THRESHOLD_=65536, which pins it at 128 KiB for good. Measured (docs/sources.md,
"Scale-out on Dask"): 40 photos of 1024x768 took 2.00 + 0.54 s (user + system CPU) with
glibc's defaults, 2.33 + 1.10 s with Dask's setting, 1.92 + 0.02 s with these thresholds.
The values are those glibc's own dynamic threshold reaches at most on 64-bit systems (mmap
32 MiB, trim twice that): memory kept in the heap is bounded as it is by default, only
reached at once. A no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# glibc's mallopt parameters, and the most its dynamic mmap threshold reaches (64-bit)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

_tuned: bool | None = None  # None: not tried; then whether glibc took the settings


def tune_allocator() -> bool:
    """Set the thresholds once in this process (forked children keep them); whether they
    are set (False where the C library has no mallopt)."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _tuned


def tuned() -> bool:
    """Whether this process (or the one it was forked from) set the thresholds."""
    return bool(_tuned)
