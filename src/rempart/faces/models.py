"""dlib's face models, found by path in the face-recognition-models package and loaded once
per process. The package's own module is never imported (it needs pkg_resources)."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import dlib

from rempart.errors import SetupError

LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
EMBEDDING = "dlib_face_recognition_resnet_model_v1.dat"
CNN_DETECTOR = "mmod_human_face_detector.dat"  # dlib's CNN (MMOD) face detector


class FaceModelsMissing(SetupError, RuntimeError):
    """The model files are not installed (install the project's dependencies)."""


def model_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelsMissing("the face-recognition-models package is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in (LANDMARKS_5, EMBEDDING, CNN_DETECTOR):
        if not (folder / name).is_file():
            raise FaceModelsMissing(f"face model file missing: {folder / name}")
    return folder


@cache
def detector() -> Any:
    return dlib.get_frontal_face_detector()


@cache
def landmarks() -> Any:
    return dlib.shape_predictor(str(model_dir() / LANDMARKS_5))


@cache
def encoder() -> Any:
    return dlib.face_recognition_model_v1(str(model_dir() / EMBEDDING))


@cache
def cnn_detector() -> Any:
    """dlib's CNN face detector (finds turned faces HOG misses; ~6 us a pixel on one CPU core)."""
    return dlib.cnn_face_detection_model_v1(str(model_dir() / CNN_DETECTOR))
