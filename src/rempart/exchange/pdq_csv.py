"""CSV of PDQ hashes: one photo hash per row.

With a header row, the hash column is `pdq` (or `hash`, `pdq_hash`, `signal_value`,
`value`) and an optional `quality` (or `pdq_quality`) column gives its PDQ quality (0-100);
other columns are ignored. Without a header, the first column is the hash and an optional
second one its quality. Rows are read one at a time (large files in constant memory); a bad
row is a problem naming the file and line, and reading goes on. Export writes
`pdq,quality`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rempart.exchange.list_model import ExportSet, ParsedList, clean_hex, image_item, text_lines

HASH_COLUMNS = ("pdq", "hash", "pdq_hash", "signal_value", "value")
QUALITY_COLUMNS = ("quality", "pdq_quality")


def _quality(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise ValueError("quality must be a whole number from 0 to 100")
    return int(text)


def read(path: Path, parsed: ParsedList | None = None) -> ParsedList:
    parsed = parsed or ParsedList(source=str(path), format="csv")
    hash_col, quality_col = 0, 1
    header_seen = False
    for number, line in text_lines(path, parsed):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = next(csv.reader(io.StringIO(line)))
        except (csv.Error, StopIteration):
            parsed.problem(number, "not a CSV row")
            continue
        cells = [c.strip() for c in row]
        if not header_seen:
            header_seen = True
            lowered = [c.lower() for c in cells]
            if clean_hex(cells[0], "pdq") is None and any(c in HASH_COLUMNS for c in lowered):
                hash_col = next(i for i, c in enumerate(lowered) if c in HASH_COLUMNS)
                quality_col = next((i for i, c in enumerate(lowered) if c in QUALITY_COLUMNS), -1)
                continue
        parsed.records += 1
        value = clean_hex(cells[hash_col] if hash_col < len(cells) else None, "pdq")
        if value is None:
            parsed.problem(number, "not a PDQ hash (64 hex characters)")
            continue
        try:
            quality = _quality(cells[quality_col]) if 0 <= quality_col < len(cells) else None
        except ValueError as exc:
            parsed.problem(number, str(exc))
            continue
        parsed.add_item(number, image_item(value, quality))
    return parsed


def write(export: ExportSet, path: Path) -> int:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(["pdq", "quality"])
    rows = 0
    for e in export.items:
        if e.item.media_type == "image" and e.item.pdq:
            quality = "" if e.item.pdq_quality is None else str(e.item.pdq_quality)
            out.writerow([e.item.pdq, quality])
            rows += 1
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(path)
    return rows
