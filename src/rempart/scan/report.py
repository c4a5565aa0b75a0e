"""Scan reports: JSON (everything, nested) and CSV (one row per match or problem)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from rempart.scan.pipeline import ScanResult, summary

CSV_COLUMNS = (
    "file", "status", "bank", "bank_entry", "case", "signal", "distance", "transform",
    "reason", "detail",
)  # fmt: skip


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def report_json(result: ScanResult) -> dict[str, Any]:
    return {
        "format": "rempart-scan-report",
        "version": 1,
        "scan_id": result.scan_id,
        "started_at": _iso(result.started_at),
        "finished_at": _iso(result.finished_at),
        "banks": list(result.banks),
        "summary": summary(result),
        "matches": [
            {
                "file": m.file,
                "bank": m.hit.bank,
                "bank_entry": m.hit.bank_entry,
                "case": m.hit.case,
                "signal": m.hit.signal,
                "distance": m.hit.distance,
                "transform": m.hit.transform,
                "pdq_quality": m.pdq_quality,
                "label": m.hit.label,
            }
            for m in result.matches
        ],
        "skipped": [
            {"file": s.file, "reason": s.reason, "detail": s.detail} for s in result.skipped
        ],
        "too_little_detail": list(result.low_quality),
    }


def csv_rows(result: ScanResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for m in result.matches:
        rows.append(
            {
                "file": m.file, "status": "match", "bank": m.hit.bank,
                "bank_entry": m.hit.bank_entry, "case": m.hit.case, "signal": m.hit.signal,
                "distance": m.hit.distance, "transform": m.hit.transform,
            }
        )  # fmt: skip
    for s in result.skipped:
        rows.append({"file": s.file, "status": "skipped", "reason": s.reason, "detail": s.detail})
    for f in result.low_quality:
        rows.append(
            {"file": f, "status": "too-little-detail", "reason": "too little detail to hash"}
        )
    return rows


def write_report(result: ScanResult, path: Path, fmt: str) -> None:
    """Write the report atomically in `fmt` (json or csv)."""
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "json":
        tmp.write_text(json.dumps(report_json(result), indent=2) + "\n", encoding="utf-8")
    elif fmt == "csv":
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, restval="")
            writer.writeheader()
            writer.writerows(csv_rows(result))
    else:
        raise ValueError(f"unknown report format {fmt!r} (json or csv)")
    tmp.replace(path)
