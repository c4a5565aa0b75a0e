"""Rempart's own hash-list format, for exchange between organisations (docs/formats.md).

Each item is a hash-submission item (the same fields, video frame hashes included), with
an optional label and expiry; `withdrawn` lists hashes withdrawn since, as SHA-256 digests
of their hex value (one-way: the hash cannot be recovered from it; a partner holding the
hash computes the same digest and deletes it). No case number, name or consent record
leaves the organisation: the receiver records its own consent (a partner's) on import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rempart import __version__
from rempart.exchange.consent import FormatError
from rempart.exchange.list_model import (
    EXCHANGED_TYPES,
    ExportSet,
    ParsedList,
    clean_hex,
    load_json,
    write_atomic,
)
from rempart.exchange.submission import parse_item
from rempart.store.models import utcnow

FORMAT = "rempart-hash-list"
VERSION = 1


def to_json(export: ExportSet) -> dict[str, Any]:
    items = []
    for e in export.items:
        entry = e.item.to_json()
        entry.pop("path", None)
        for key in ("md5", "sha256"):  # a hash a partner did not give is absent, not ""
            entry[key] = entry[key] or None
        if e.label:
            entry["label"] = e.label
        if e.expires_at is not None:
            entry["expires_at"] = e.expires_at.isoformat(timespec="seconds")
        items.append(entry)
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": utcnow().isoformat(timespec="seconds"),
        "generator": f"rempart {__version__}",
        "bank": {"name": export.bank, "pdq_threshold": export.pdq_threshold},
        "items": items,
        "withdrawn": [
            {
                "signal_type": kind,
                "value_sha256": digest,
                "withdrawn_at": at.isoformat(timespec="seconds"),
            }
            for kind, digest, at in export.withdrawals
        ],
    }


def write(export: ExportSet, path: Path) -> int:
    write_atomic(path, json.dumps(to_json(export), indent=2) + "\n")
    return len(export.items)


def parse(data: Any, source: str) -> ParsedList:
    parsed = ParsedList(source=source, format="rempart")
    if not isinstance(data, dict):
        raise FormatError(f"{source}: the top level must be a JSON object")
    check_header(data, source)
    items = data.get("items", [])
    withdrawn = data.get("withdrawn", [])
    if not isinstance(items, list) or not isinstance(withdrawn, list):
        raise FormatError(f"{source}: 'items' and 'withdrawn' must be lists")
    parse_items(parsed, items)
    return parse_withdrawn(parsed, withdrawn)


def check_header(data: dict[str, Any], source: str) -> None:
    """The format and version fields (FormatError when not this format's)."""
    if data.get("format") != FORMAT:
        raise FormatError(f"{source}: not a Rempart hash list (format is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise FormatError(f"{source}: unsupported version {data.get('version')!r}")


def parse_items(parsed: ParsedList, items: Iterable[Any]) -> ParsedList:
    """The items to add, in order (a list, or a stream of them)."""
    for number, raw in enumerate(items, 1):
        parsed.records += 1
        try:
            item = parse_item(raw, f"item {number}")
        except FormatError as exc:
            parsed.problem(number, str(exc).removeprefix(f"item {number}: "))
            continue
        label = raw.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > 200):
            parsed.problem(number, "'label' must be text of at most 200 characters")
            continue
        parsed.add_item(number, item, label)
    return parsed


def parse_withdrawn(parsed: ParsedList, withdrawn: Iterable[Any]) -> ParsedList:
    """The withdrawn hashes' digests (a list, or a stream of them)."""
    for number, raw in enumerate(withdrawn, 1):
        parsed.records += 1
        where = f"withdrawn {number}"
        if not isinstance(raw, dict):
            parsed.problem(None, f"{where}: must be an object")
            continue
        kind = raw.get("signal_type")
        digest = clean_hex(raw.get("value_sha256"), "sha256")
        if kind not in EXCHANGED_TYPES or digest is None:
            parsed.problem(
                None,
                f"{where}: needs 'signal_type' (pdq, md5 or sha256) and 'value_sha256' (64 hex)",
            )
            continue
        parsed.withdrawn_digests.append((kind, digest))
    return parsed


def read(path: Path) -> ParsedList:
    return parse(load_json(path), str(path))
