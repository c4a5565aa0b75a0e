"""Build hook for Rempart's compiled kernels: the index's (multi-index hashing, descriptor
votes), PDQ's (a streaming, bit-exact PDQ), the robust stage's reduced copies (Pillow's
pixels) and the keypoint pairs' of local-feature verification; everything else is in
pyproject.toml."""

import platform
from pathlib import Path

from setuptools import Extension, setup

KERNEL = Path("src/rempart/index/_mih.c")

compile_args = ["-O3", "-std=c11"]
if platform.machine() in ("x86_64", "AMD64"):
    compile_args.append("-mpopcnt")

setup(
    ext_modules=[
        Extension("rempart.index._mih", sources=[str(KERNEL)], extra_compile_args=compile_args),
        # no fused multiply-add: PDQ must round as Meta's reference does, bit for bit
        Extension(
            "rempart.signals._pdq",
            sources=["src/rempart/signals/_pdq.c"],
            extra_compile_args=["-O3", "-std=c11", "-ffp-contract=off"],
        ),
        # reduced copies pixel for pixel as Pillow's: coefficients rounded as its are
        Extension(
            "rempart.signals._resample",
            sources=["src/rempart/signals/_resample.c"],
            extra_compile_args=["-O3", "-std=c11", "-ffp-contract=off"],
        ),
        Extension(
            "rempart.signals._keypoints",
            sources=["src/rempart/signals/_keypoints.c"],
            extra_compile_args=compile_args,
        ),
    ]
)
