"""Build hook for Rempart's compiled index kernel (everything else is in pyproject.toml)."""

import platform
from pathlib import Path

from setuptools import Extension, setup

KERNEL = Path("src/rempart/index/_mih.c")

compile_args = ["-O3", "-std=c11"]
if platform.machine() in ("x86_64", "AMD64"):
    compile_args.append("-mpopcnt")

ext_modules = []
if KERNEL.exists():  # the index kernel is being written; the guard goes once it lands
    ext_modules.append(
        Extension("rempart.index._mih", sources=[str(KERNEL)], extra_compile_args=compile_args)
    )

setup(ext_modules=ext_modules)
