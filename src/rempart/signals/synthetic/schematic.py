"""The derivation schematic: a drawing of her photo's frame with the unchanged area outlined
and hatched and the replaced area marked, for the evidence package.

Why a drawing and not the pictures: the package goes to platforms, police and courts, and an
intimate picture (hers or the altered copy) must not travel in it unless the organisation
chose to include media. The schematic carries the finding's geometry only: outlines and
hatching in four flat colours on white, no pixel of any picture, no anti-aliasing (so a test
can check every pixel is one of those colours).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, ImageDraw

WHITE = (255, 255, 255)
FRAME = (40, 40, 40)  # her photo's frame and the legend text
UNCHANGED = (0, 110, 60)  # outline and hatching of the unchanged area
CHANGED = (200, 30, 30)  # outline and cross of the replaced area
COLOURS = frozenset({WHITE, FRAME, UNCHANGED, CHANGED})
HATCH = 12  # pixels between hatching lines
MARGIN = 20
LEGEND = 34  # pixels under the frame for the legend


def _boxes(value: object) -> list[tuple[float, float, float, float]]:
    out: list[tuple[float, float, float, float]] = []
    if not isinstance(value, Sequence):
        return out
    for box in value:
        if isinstance(box, Sequence) and not isinstance(box, str) and len(box) == 4:
            try:
                x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in box)
            except (TypeError, ValueError):
                continue
            if x1 > x0 and y1 > y0:
                out.append((x0, y0, x1, y1))
    return out


def draw(evidence: Mapping[str, Any], frame: tuple[int, int] = (400, 300)) -> bytes:
    """The PNG of a derivation finding's evidence (`unchanged` and `changed` boxes in unit
    coordinates of her photo), drawn in a `frame` of width x height pixels (her photo's
    proportions when known)."""
    fw, fh = max(40, min(frame[0], 2000)), max(40, min(frame[1], 2000))
    canvas = Image.new("RGB", (fw + 2 * MARGIN, fh + 2 * MARGIN + LEGEND), WHITE)
    pen = ImageDraw.Draw(canvas)
    pen.fontmode = "1"  # no anti-aliased text: only the four colours

    def px(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = box
        return (
            MARGIN + round(x0 * (fw - 1)),
            MARGIN + round(y0 * (fh - 1)),
            MARGIN + round(x1 * (fw - 1)),
            MARGIN + round(y1 * (fh - 1)),
        )

    for box in _boxes(evidence.get("changed")):
        x0, y0, x1, y1 = px(box)
        pen.rectangle((x0, y0, x1, y1), outline=CHANGED, width=2)
        pen.line((x0, y0, x1, y1), fill=CHANGED, width=1)
        pen.line((x0, y1, x1, y0), fill=CHANGED, width=1)
    for box in _boxes(evidence.get("unchanged")):
        x0, y0, x1, y1 = px(box)
        for k in range(x0 - (y1 - y0), x1, HATCH):  # 45-degree hatching, clipped to the box
            ax, ay = max(k, x0), y1 - (max(k, x0) - k)
            bx, by = min(k + (y1 - y0), x1), y1 - (min(k + (y1 - y0), x1) - k)
            if ax <= bx:
                pen.line((ax, ay, bx, by), fill=UNCHANGED, width=1)
        pen.rectangle((x0, y0, x1, y1), outline=UNCHANGED, width=3)
    pen.rectangle((MARGIN - 1, MARGIN - 1, MARGIN + fw, MARGIN + fh), outline=FRAME, width=1)
    y = MARGIN + fh + 10
    pen.rectangle((MARGIN, y, MARGIN + 14, y + 12), outline=UNCHANGED, width=3)
    pen.text((MARGIN + 22, y), "unchanged part of the banked photo", fill=FRAME)
    pen.rectangle((MARGIN + fw // 2 + 20, y, MARGIN + fw // 2 + 34, y + 12), outline=CHANGED)
    pen.text((MARGIN + fw // 2 + 42, y), "replaced", fill=FRAME)
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    return buf.getvalue()
