"""Types of the reduced-copies kernel written in C (_resample.c), which carries none itself.

Pixels are `pixel` bytes each (1: grey, 3: RGB, 4: RGBX), rows `stride` bytes apart; colour
results come back as 4-byte RGBX pixels, grey ones as 1 byte."""

from typing import TypeAlias

import numpy as np
from typing_extensions import Buffer

# numpy arrays expose the buffer protocol, which numpy's stubs declare only for Python 3.12+
_Buf: TypeAlias = Buffer | np.ndarray

def resize(
    pixels: _Buf,
    width: int,
    height: int,
    stride: int,
    pixel: int,
    out_width: int,
    out_height: int,
    grey: bool,
    /,
) -> bytes: ...
def reduce(pixels: _Buf, width: int, height: int, stride: int, pixel: int, n: int, /) -> bytes: ...
def grey(pixels: _Buf, width: int, height: int, stride: int, pixel: int, /) -> bytes: ...
