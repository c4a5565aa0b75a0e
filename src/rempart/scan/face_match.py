"""Compare the faces found in scanned media with the enrolled templates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rempart.faces.detect import FaceFinding
from rempart.faces.index import TemplateIndex
from rempart.store.face_templates import LoadedTemplates

# Euclidean distance between dlib templates at or under which two faces are the same
# person (dlib's own rule of thumb is 0.6). 0.55 was chosen on bench/face_bench.py: 95.3%
# of composites found, no false match among ~800 distractor faces (docs/faces.md).
DEFAULT_FACE_DISTANCE = 0.55


@dataclass(frozen=True)
class FaceHit:
    case: str
    template_id: int
    template_source: str
    distance: float
    similarity: float  # 1 - distance (floored at 0): 1 is the same template, for people
    box: tuple[int, int, int, int]
    time: float | None


class FaceMatcher:
    def __init__(self, loaded: LoadedTemplates, threshold: float = DEFAULT_FACE_DISTANCE) -> None:
        self.loaded = loaded
        self.threshold = threshold
        self.index = TemplateIndex(loaded.vectors)

    def __len__(self) -> int:
        return len(self.index)

    def match(self, findings: Sequence[FaceFinding]) -> list[FaceHit]:
        """Hits for the comparable faces, one per (face, case), nearest template first."""
        usable = [f for f in findings if f.status == "ok" and f.template is not None]
        if not usable or not len(self.index):
            return []
        queries = np.asarray([f.template for f in usable], dtype=np.float32)
        found = self.index.search(queries, self.threshold)
        hits: list[FaceHit] = []
        for face, row in zip(usable, found, strict=True):
            seen: set[str] = set()
            for h in row:
                case = self.loaded.cases[h.position]
                if case in seen:
                    continue
                seen.add(case)
                hits.append(
                    FaceHit(
                        case,
                        self.loaded.ids[h.position],
                        self.loaded.sources[h.position],
                        round(h.distance, 4),
                        round(max(0.0, 1 - h.distance), 4),
                        face.box,
                        face.time,
                    )
                )
        return sorted(hits, key=lambda h: h.distance)
