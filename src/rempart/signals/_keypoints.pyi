"""Types of the keypoint-pair kernel written in C (_keypoints.c), which carries none itself."""

from typing import TypeAlias

import numpy as np
from typing_extensions import Buffer

# numpy arrays expose the buffer protocol, which numpy's stubs declare only for Python 3.12+
_Buf: TypeAlias = Buffer | np.ndarray

def pairs(query: _Buf, stored: _Buf, max_distance: int, ratio: float, /) -> bytes: ...
