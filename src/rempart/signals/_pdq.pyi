"""Types of the PDQ kernel written in C (_pdq.c), which carries none itself.

Hashes come back as 32 bytes each (8 of them, in DIHEDRAL's order, with `dihedral`), and
the quality; buffers are anything exposing the buffer protocol (bytes, numpy arrays).
"""

from typing import TypeAlias

import numpy as np
from typing_extensions import Buffer

# numpy arrays expose the buffer protocol, which numpy's stubs declare only for Python 3.12+
_Buf: TypeAlias = Buffer | np.ndarray

def hash_pixels(
    pixels: _Buf,
    width: int,
    height: int,
    stride: int,
    pixel: int,
    left: int,
    top: int,
    right: int,
    bottom: int,
    dihedral: bool,
    /,
) -> tuple[bytes, int]: ...
def hash_luma(
    luma: _Buf,
    width: int,
    height: int,
    left: int,
    top: int,
    right: int,
    bottom: int,
    dihedral: bool,
    /,
) -> tuple[bytes, int]: ...
def luma(pixels: _Buf, width: int, height: int, stride: int, pixel: int, /) -> bytes: ...
