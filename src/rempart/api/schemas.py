"""Request and response bodies shared by several routes (documented in the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class HitOut(BaseModel):
    bank: str
    bank_entry: int = Field(description="The bank entry (one banked picture or video).")
    signal: str = Field(description="How it matched: pdq, vpdq, md5 or sha256.")
    distance: int = Field(description="PDQ Hamming distance (0 for exact hashes).")
    transform: str | None = Field(
        None, description="For PDQ: how the query relates to the banked picture."
    )
    case: str | None = Field(None, description="Caseworkers and admins only.")
    label: str | None = Field(None, description="Caseworkers and admins only.")
    details: dict[str, Any] | None = None


class LookupOut(BaseModel):
    signal_type: str
    signal: str
    matches: list[HitOut]


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signal_type: str = Field(description="pdq, md5, sha256 (or video_md5).")
    signal: str = Field(description="The hash, hexadecimal.")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queries: list[QueryIn]
    threshold: int | None = Field(
        None, ge=0, le=63, description="PDQ distance (default: each bank's)."
    )


class BatchOut(BaseModel):
    results: list[LookupOut]


class MediaOut(BaseModel):
    hashes: dict[str, Any]
    matches: list[HitOut]
    # synthetic-media signals found in the file (Finding JSON, as `rempart inspect`); []:
    # no signal found, never "real" (docs/synthetic.md)
    synthetic: list[dict[str, Any]] = []


class UrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=4000)
