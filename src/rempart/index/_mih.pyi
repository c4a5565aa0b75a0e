"""Types of the multi-index hashing kernel written in C (_mih.c), which carries none itself.

Buffers are anything exposing the buffer protocol (bytes, numpy arrays); results come back as
three bytes objects (per-query counts as uint32, rows as uint32, distances as int32).
"""

from typing import TypeAlias

import numpy as np
from typing_extensions import Buffer

# numpy arrays expose the buffer protocol, which numpy's stubs declare only for Python 3.12+
_Buf: TypeAlias = Buffer | np.ndarray

CHUNKS: int
MAX_ROWS: int
OFFSETS: int

def build(hashes: _Buf, entries_out: _Buf, offsets_out: _Buf, /) -> None: ...
def check(entries: _Buf, offsets: _Buf, n: int, /) -> bool: ...
def search(
    hashes: _Buf,
    entries: _Buf,
    offsets: _Buf,
    tombstones: _Buf,
    queries: _Buf,
    radius: int,
    /,
) -> tuple[bytes, bytes, bytes]: ...
def brute(
    hashes: _Buf, tombstones: _Buf, queries: _Buf, radius: int, /
) -> tuple[bytes, bytes, bytes]: ...
def votes(
    offsets: _Buf,
    rows: _Buf,
    descriptors: _Buf,
    owners: _Buf,
    n_owners: int,
    queries: _Buf,
    max_bucket: int,
    max_distance: int,
    /,
) -> bytes: ...
