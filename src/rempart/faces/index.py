"""A search index over face templates (128-d, Euclidean distance as dlib defines it).

Exact (brute force with numpy) up to EXACT_MAX templates; above, faiss HNSW (approximate:
its recall against the exact search is measured in bench/face_bench.py). Built in memory
from decrypted templates at the start of a scan and never written to disk. Measured at 1M
templates: exact 10.7 ms a query (no build); HNSW 0.33 ms a query but 277 s to build, which
a scan would pay at every start, so exact search is the default up to 2M templates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_MAX = 2_000_000
HNSW_M = 32
HNSW_EF_SEARCH = 128


@dataclass(frozen=True)
class TemplateHit:
    position: int  # index into the ids given at build time
    distance: float


class TemplateIndex:
    def __init__(self, vectors: np.ndarray, *, exact: bool | None = None) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, 128)
        self.exact = len(self.vectors) <= EXACT_MAX if exact is None else exact
        self._norms = (self.vectors**2).sum(axis=1)
        self._hnsw = None
        if not self.exact and len(self.vectors):
            import faiss

            index = faiss.IndexHNSWFlat(128, HNSW_M)
            index.hnsw.efConstruction = 80
            index.add(self.vectors)
            index.hnsw.efSearch = HNSW_EF_SEARCH
            self._hnsw = index

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, radius: float, k: int = 10) -> list[list[TemplateHit]]:
        """For each query, up to k templates within `radius`, nearest first."""
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, 128)
        if len(q) == 0 or len(self.vectors) == 0:
            return [[] for _ in range(len(q))]
        if self._hnsw is not None:
            d2, idx = self._hnsw.search(q, k)
            dist = np.sqrt(np.maximum(d2, 0))
        else:
            d2 = (q**2).sum(axis=1)[:, None] + self._norms[None, :] - 2 * q @ self.vectors.T
            kk = min(k, len(self.vectors))
            idx = np.argpartition(d2, kk - 1, axis=1)[:, :kk]
            dist = np.sqrt(np.maximum(np.take_along_axis(d2, idx, axis=1), 0))
        out: list[list[TemplateHit]] = []
        for row_i, row_d in zip(idx, dist, strict=True):
            hits = [
                TemplateHit(int(i), float(d))
                for i, d in zip(row_i, row_d, strict=True)
                if i >= 0 and d <= radius
            ]
            out.append(sorted(hits, key=lambda h: h.distance))
        return out
