"""Build hook for Rempart's compiled index kernel (everything else is in pyproject.toml)."""

import platform
from pathlib import Path

from setuptools import Extension, setup

KERNEL = Path("src/rempart/index/_mih.c")

compile_args = ["-O3", "-std=c11"]
if platform.machine() in ("x86_64", "AMD64"):
    compile_args.append("-mpopcnt")

setup(
    ext_modules=[
        Extension("rempart.index._mih", sources=[str(KERNEL)], extra_compile_args=compile_args)
    ]
)
