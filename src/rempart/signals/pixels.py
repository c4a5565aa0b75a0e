"""A decoded picture's pixels where Pillow keeps them, for the C kernels (PDQ), without the
copy that `Image.tobytes` makes.

Pillow (11.2 and later) lends an image's memory through the Arrow C data interface: an RGB
picture as rows of 4-byte RGBX pixels, a grey one as bytes. Hashing a 1024x768 photo read
its pixels through `tobytes` first (a 2.4 MB copy, about 0.6 ms of the scan's time per
photo); the kernels read RGBX rows as they are. The same bytes reach the same arithmetic,
so every hash is unchanged (tests/signals/test_pdq_kernel.py). Where Pillow cannot lend
them (an older Pillow, a picture it keeps in several blocks), `None`: the caller copies.
"""

from __future__ import annotations

import ctypes
from typing import Any

from PIL import Image


class _ArrowArray(ctypes.Structure):
    pass


_ArrowArray._fields_ = [  # the Arrow C data interface's ArrowArray (a stable ABI)
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def borrowed(image: Image.Image) -> tuple[Any, int] | None:
    """(a buffer over the picture's own memory, bytes per pixel: 4 for RGB as RGBX rows, 1
    for L), rows `width * pixel` bytes apart; None where Pillow cannot lend it. The buffer
    keeps the picture's memory alive while it is referenced."""
    if image.mode not in ("RGB", "L") or not image.width or not image.height:
        return None
    export = getattr(image, "__arrow_c_array__", None)
    if export is None:
        return None
    try:
        _, capsule = export()
        array = ctypes.cast(
            _capsule_pointer(capsule, b"arrow_array"), ctypes.POINTER(_ArrowArray)
        ).contents
    except (ValueError, TypeError, NotImplementedError):
        return None
    n = image.width * image.height
    pixel = 4 if image.mode == "RGB" else 1
    if pixel == 4:  # a fixed-size list of 4 bytes per pixel: its one child holds them
        if array.n_children != 1 or array.offset != 0 or array.length != n:
            return None
        array = array.children[0].contents
    if array.n_buffers < 2 or array.offset != 0 or array.length != n * pixel:
        return None
    address = array.buffers[1]
    if not address:
        return None
    data = (ctypes.c_uint8 * (n * pixel)).from_address(address)
    data._capsule = capsule  # type: ignore[attr-defined]  # the memory lives while this does
    return data, pixel


def pixels_of(image: Image.Image) -> tuple[Any, int]:
    """An RGB or L picture's pixels for the kernels and the bytes per pixel: `borrowed`
    where Pillow lends them (RGBX rows: 4), else a copy (`tobytes`: RGB 3, L 1)."""
    lent = borrowed(image)
    if lent is not None:
        return lent
    return image.tobytes(), 1 if image.mode == "L" else 3
