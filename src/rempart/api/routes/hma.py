"""The lookup shapes of Meta's Hasher-Matcher-Actioner (HMA, OpenMediaMatch), for platforms
that already integrated it: /m/lookup and /h/hash. Same parameters and answers; a Rempart
API key is still required (HMA has none), and only the banks shared with the caller count.

GET /m/lookup?signal_type=pdq&signal=HEX  ->  {"BANK": [{"bank_content_id": 12, "distance": "4"}]}
GET /m/lookup?url=URL                     ->  {"pdq": {"BANK": [...]}, "md5": {...}}
POST /m/lookup (file)                     ->  the same, from an uploaded picture or video
GET /h/hash?url=URL, POST /h/hash (file)  ->  {"pdq": HEX, "md5": HEX}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from rempart.api.auth import Principal, authenticate, require
from rempart.api.lookups import SIGNAL_TYPES, parse_query
from rempart.api.lookups import Query as HashQuery
from rempart.api.routes.lookup import (
    LOOKUP_ROLES,
    fetch_url,
    json_response,
    lookup_hashes_async,
    param,
)
from rempart.api.routes.uploads import read_upload
from rempart.api.services import Services, services

router = APIRouter(tags=["HMA-compatible"])
# "pdq, md5, sha256 or video_md5": the API lookup's names (signals/types.py)
_TYPE_NAMES = f"{', '.join(list(SIGNAL_TYPES)[:-1])} or {list(SIGNAL_TYPES)[-1]}"


def _by_bank(matches: list[dict[str, Any]], banks: set[str] | None) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in matches:
        if banks is None or m["bank"] in banks:
            out.setdefault(m["bank"], []).append(
                {"bank_content_id": m["bank_entry"], "distance": str(m["distance"])}
            )
    return out


def _media_signals(summary: dict[str, Any]) -> list[HashQuery]:
    out = [HashQuery("md5", summary["md5"])]
    if summary.get("pdq"):
        out.insert(0, HashQuery("pdq", summary["pdq"]))
    return out


def _lookup_media(
    svc: Services, p: Principal, data: bytes, name: str, banks: set[str] | None
) -> dict[str, Any]:
    """Per signal type, as HMA: "pdq" (a picture: also under its 8 rotations and flips) or
    "vpdq" (a video's frames), and "md5" (the exact file)."""
    summary, hits = svc.lookups.media(p, data, name)
    signals = _media_signals(summary)
    per_signal = svc.lookups.hashes(p, signals)  # each signal on its own (exact hits
    near: dict[tuple[str, int], int] = {}  # in `hits` hide near ones on the same entry)
    # PDQ-distance hits (pdq, vpdq, and pdq-* variants such as crops); not other kinds
    for h in [h for h in hits if h.signal.startswith(("pdq", "vpdq"))] + (
        per_signal[0] if summary.get("pdq") else []
    ):
        key = (h.bank, h.bank_entry)
        near[key] = min(h.distance, near.get(key, h.distance))
    rows = [{"bank": b, "bank_entry": e, "distance": d} for (b, e), d in sorted(near.items())]
    exact = [{"bank": h.bank, "bank_entry": h.bank_entry, "distance": 0} for h in per_signal[-1]]
    svc.querylog.add(
        p.tenant_id, p.id, "hma", [(signals[0].signal_type, signals[0].value, rows + exact)]
    )
    kind = "pdq" if summary["media_type"] == "image" else "vpdq"
    return {kind: _by_bank(rows, banks), "md5": _by_bank(exact, banks)}


def _banks(banks: str | None) -> set[str] | None:
    return {b.strip() for b in banks.split(",") if b.strip()} if banks else None


@router.get(
    "/m/lookup",
    summary="HMA: look up a hash, or the media at a URL",
    openapi_extra={
        "parameters": [
            param("signal_type", _TYPE_NAMES, False),
            param("signal", "The hash, hexadecimal", False),
            param("url", "Instead of a hash: media to fetch (public addresses only)", False),
            param("banks", "Only these banks (comma-separated)", False),
        ]
    },
)
async def m_lookup(request: Request) -> Any:
    p = await authenticate(request, LOOKUP_ROLES)
    svc: Services = request.app.state.services
    args = request.query_params
    signal_type, signal, url = args.get("signal_type"), args.get("signal"), args.get("url")
    banks = _banks(args.get("banks"))
    if url:
        if len(url) > 4000:
            raise HTTPException(400, "url: too long")
        data = await run_in_threadpool(fetch_url, svc, url)
        result = await run_in_threadpool(_lookup_media, svc, p, data, "download", banks)
        return result.get(signal_type, {}) if signal_type else result
    if not signal or not signal_type:
        raise HTTPException(400, "Either url or both signal and signal_type are required")
    try:
        q = parse_query(signal_type, signal[:200])
    except ValueError as exc:
        raise HTTPException(400, f"invalid signal: {exc}") from exc
    matches = (await lookup_hashes_async(svc, p, [q], None, "hma"))[0]
    return json_response(_by_bank(matches, banks))


@router.post("/m/lookup", summary="HMA: look up an uploaded picture or video")
async def m_lookup_post(
    request: Request,
    banks: str | None = None,
    p: Principal = Depends(require(*LOOKUP_ROLES)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    data, name = await read_upload(request)
    return await run_in_threadpool(_lookup_media, svc, p, data, name, _banks(banks))


def _hashes(summary: dict[str, Any]) -> dict[str, str]:
    return {q.signal_type: q.value for q in _media_signals(summary)}


@router.get("/h/hash", summary="HMA: hash the media at a URL")
def h_hash(
    url: str = Query(max_length=4000),
    p: Principal = Depends(require(*LOOKUP_ROLES)),
    svc: Services = Depends(services),
) -> dict[str, str]:
    return _hashes(svc.lookups.hash(fetch_url(svc, url), "download").summary)


@router.post("/h/hash", summary="HMA: hash an uploaded picture or video")
async def h_hash_post(
    request: Request,
    p: Principal = Depends(require(*LOOKUP_ROLES)),
    svc: Services = Depends(services),
) -> dict[str, str]:
    data, name = await read_upload(request)
    hashes = await run_in_threadpool(svc.lookups.hash, data, name)
    return _hashes(hashes.summary)
