"""Modules imported on first use, for the `rempart` command's start-up.

Every command module is imported to build the command line (help, dispatch), but most
commands need only a few of the heavy libraries (numpy, OpenCV, PyAV, dlib, FAISS,
cryptography, matplotlib, FastAPI): importing them all cost every command about 2.5 s
before it did anything. A command module names such a module with `lazy_module(...)` and
uses it as before (`evidence.export_package(...)`); the import happens at the first
attribute read, inside the command that needs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """Stands for a module until an attribute is read, then imports it (once: Python's
    module cache) and hands over the attribute."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__dict__["_lazy_target"]), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_lazy_target']!r}>"


def lazy_module(name: str) -> Any:
    """`name`, imported when first used (typed Any: use it like the module itself)."""
    return _LazyModule(name)
