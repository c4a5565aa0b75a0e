"""Meta's Hasher-Matcher-Actioner (HMA 2, OpenMediaMatch) bank contents.

HMA names signal types as python-threatexchange does (`pdq`, `video_md5`,
`video_sha256`, ...), and a bank entry ("content") carries one value per signal type. Two
shapes are read:

- JSON, as HMA's curation API shows a bank and its contents: an object
  `{"bank": {"name": ..., "matching_enabled_ratio": 1.0}, "contents": [{"id": 1,
  "signals": {"pdq": "<hex>"}, "disable_until_ts": 0, "original_media_uri": null,
  "collab_metadata": {}}, ...]}`, or just the list of contents, or a list of the
  `{"pdq": "<hex>"}` bodies that HMA's "add signal to bank" endpoint takes;
- text, python-threatexchange's signal file (what HMA's "file" exchange reads): one
  `signal_type value` per line, e.g. `pdq e64c...b064`.

Exports are the JSON shape (`--format hma`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rempart.exchange.consent import FormatError
from rempart.exchange.list_model import (
    ExportSet,
    ParsedList,
    clean_hex,
    image_item,
    load_json,
    text_lines,
    video_item,
    write_atomic,
)
from rempart.signals.types import MD5, PDQ, REGISTRY, SHA256

# HMA / python-threatexchange signal type name -> Rempart signal (signals/types.py:
# pdq -> pdq, video_md5 -> md5, video_sha256 -> sha256)
KNOWN = {name: t.name for name, t in REGISTRY.in_list("hma").items()}
TE_KNOWN = {name: t.name for name, t in REGISTRY.in_list("threatexchange").items()}
OTHER_KNOWN = ("vpdq", "url", "url_md5", "raw_text", "trend_query", "tmk")


def _content(parsed: ParsedList, number: int, signals: Any, names: dict[str, str] = KNOWN) -> None:
    if not isinstance(signals, dict) or not signals:
        parsed.problem(number, "'signals' must be an object of signal type -> value")
        return
    values: dict[str, str] = {}
    for name, raw in signals.items():
        ours = names.get(name)
        if ours is None:
            known = name in OTHER_KNOWN
            parsed.problem(
                number,
                f"signal type {str(name)[:40]!r} is "
                f"{'not one Rempart matches' if known else 'unknown'}: "
                "skipped",
            )
            continue
        value = clean_hex(raw, ours)
        if value is None:
            parsed.problem(number, f"{name}: not a valid {name} value (hex)")
            return
        values[ours] = value
    if "pdq" in values:
        if "md5" in values or "sha256" in values:
            parsed.problem(
                number, "a photo hash (pdq) and video hashes in one content: only the pdq is kept"
            )
        parsed.add_item(number, image_item(values["pdq"]))
    elif values:
        parsed.add_item(
            number, video_item(md5=values.get("md5", ""), sha256=values.get("sha256", ""))
        )


def parse_json(data: Any, source: str) -> ParsedList:
    parsed = ParsedList(source=source, format="hma")
    contents = data.get("contents") if isinstance(data, dict) else data
    if isinstance(data, dict) and "contents" not in data:
        raise FormatError(f"{source}: not HMA bank contents (no 'contents' list)")
    if not isinstance(contents, list):
        raise FormatError(f"{source}: HMA bank contents must be a list")
    return parse_contents(parsed, contents)


def parse_contents(parsed: ParsedList, contents: Iterable[Any]) -> ParsedList:
    """Each content, in order (a list, or a stream of them)."""
    for number, raw in enumerate(contents, 1):
        parsed.records += 1
        if not isinstance(raw, dict):
            parsed.problem(number, "a content must be a JSON object")
            continue
        if "signals" in raw:
            disabled = raw.get("disable_until_ts", 0)
            if isinstance(disabled, bool) or not isinstance(disabled, int | float):
                parsed.problem(number, "'disable_until_ts' must be a number")
                continue
            _content(parsed, number, raw["signals"])
        else:  # an "add signal" body: {"pdq": "..."}
            _content(parsed, number, raw)
    return parsed


def parse_lines(path: Path, parsed: ParsedList | None = None) -> ParsedList:
    parsed = parsed or ParsedList(source=str(path), format="hma")
    for number, line in text_lines(path, parsed):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parsed.records += 1
        name, _, value = text.partition(" ")
        _content(parsed, number, {name: value.strip()}, TE_KNOWN)
    return parsed


def read(path: Path) -> ParsedList:
    """JSON bank contents, or a text signal file: told apart by the first character."""
    try:
        with path.open("rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if head[:1] in (b"{", b"["):
        return parse_json(load_json(path), str(path))
    return parse_lines(path)


_NAME = {ours: name for name, ours in KNOWN.items()}  # pdq, video_md5, video_sha256


def to_json(export: ExportSet) -> dict[str, Any]:
    contents: list[dict[str, Any]] = []
    for e in export.items:
        if e.item.media_type == "image" and e.item.pdq:
            signals = {_NAME[PDQ.name]: e.item.pdq}
        elif e.item.media_type == "video" and (e.item.md5 or e.item.sha256):
            pairs = ((_NAME[MD5.name], e.item.md5), (_NAME[SHA256.name], e.item.sha256))
            signals = {k: v for k, v in pairs if v}
        else:
            continue
        contents.append(
            {
                "id": len(contents) + 1,
                "signals": signals,
                "disable_until_ts": 0,
                "original_media_uri": None,
                "collab_metadata": {},
            }
        )
    return {"bank": {"name": export.bank, "matching_enabled_ratio": 1.0}, "contents": contents}


def write(export: ExportSet, path: Path) -> int:
    doc = to_json(export)
    write_atomic(path, json.dumps(doc, indent=2) + "\n")
    return len(doc["contents"])
