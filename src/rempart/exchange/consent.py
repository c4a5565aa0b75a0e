"""Consent records: who consented, when, for what purpose, and for how long.

A victim's hashes are sensitive data and are stored only under a consent record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rempart.errors import InvalidInput


class FormatError(InvalidInput, ValueError):
    """A file in one of Rempart's exchange formats is malformed; the message names it."""


def _parse_time(value: Any, where: str, key: str) -> datetime:
    if not isinstance(value, str):
        raise FormatError(f"{where}: '{key}' must be an ISO 8601 date or date-time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise FormatError(f"{where}: '{key}' is not an ISO 8601 date ({value!r})") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ConsentRecord:
    given_by: str
    given_at: datetime
    purpose: str
    retention_until: datetime | None = None
    allow_exchange: bool = False

    @classmethod
    def parse(cls, raw: Any, where: str) -> ConsentRecord:
        if not isinstance(raw, dict):
            raise FormatError(f"{where}: a consent record must be a JSON object")
        for key in ("given_by", "given_at", "purpose"):
            if not raw.get(key):
                raise FormatError(f"{where}: missing '{key}' (who consented, when, what for)")
        if not isinstance(raw["given_by"], str) or not isinstance(raw["purpose"], str):
            raise FormatError(f"{where}: 'given_by' and 'purpose' must be text")
        if len(raw["given_by"]) > 200:
            raise FormatError(f"{where}: 'given_by' is longer than 200 characters")
        retention = raw.get("retention_until")
        allow = raw.get("allow_exchange", False)
        if not isinstance(allow, bool):
            raise FormatError(f"{where}: 'allow_exchange' must be true or false")
        return cls(
            given_by=raw["given_by"],
            given_at=_parse_time(raw["given_at"], where, "given_at"),
            purpose=raw["purpose"],
            retention_until=_parse_time(retention, where, "retention_until") if retention else None,
            allow_exchange=allow,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "given_by": self.given_by,
            "given_at": self.given_at.isoformat(),
            "purpose": self.purpose,
            "allow_exchange": self.allow_exchange,
        }
        if self.retention_until is not None:
            out["retention_until"] = self.retention_until.isoformat()
        return out


def read_consent(path: Path) -> ConsentRecord:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: malformed JSON ({exc})") from exc
    return ConsentRecord.parse(data, str(path))
