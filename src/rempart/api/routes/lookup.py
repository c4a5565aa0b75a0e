"""Hashing and lookups: one hash, a batch, a file, a URL (fetched SSRF-safe)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from rempart.api import errors
from rempart.api.auth import Principal, authenticate, require
from rempart.api.lookups import Query as HashQuery
from rempart.api.lookups import parse_query, present, visible_cases
from rempart.api.routes.uploads import read_upload
from rempart.api.schemas import BatchIn, BatchOut, LookupOut, MediaOut, UrlIn
from rempart.api.services import Services, services
from rempart.errors import RempartError
from rempart.scan.matcher import Hit
from rempart.scan.synthetic import item_findings
from rempart.sources.urls import FetchOptions, Refused, fetch

router = APIRouter(prefix="/v1", tags=["lookup"])
log = logging.getLogger("rempart.api")
LOOKUP_ROLES = ("platform", "caseworker", "admin")


def log_queries(
    svc: Services,
    p: Principal,
    endpoint: str,
    queries: list[HashQuery],
    results: list[list[dict[str, Any]]],
) -> None:
    svc.querylog.add(
        p.tenant_id,
        p.id,
        endpoint,
        [
            (
                q.signal_type,
                q.value,
                [
                    {"bank": h["bank"], "bank_entry": h["bank_entry"], "distance": h["distance"]}
                    for h in r
                ],
            )
            for q, r in zip(queries, results, strict=True)
        ],
    )


def lookup_hashes(
    svc: Services, p: Principal, queries: list[HashQuery], threshold: int | None, endpoint: str
) -> list[list[dict[str, Any]]]:
    hits = svc.lookups.hashes(p, queries, threshold)
    # only admins and caseworkers are shown case numbers (present): no transaction for others
    cases = visible_cases(svc.db, p, hits) if p.role in ("admin", "caseworker") else set()
    out = [present(h, p, cases) for h in hits]
    log_queries(svc, p, endpoint, queries, out)
    return out


def json_response(body: Any) -> Response:
    """JSON without a second validation pass (the hot paths build their answers
    themselves; the response models still document them)."""
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


async def lookup_hashes_async(
    svc: Services, p: Principal, queries: list[HashQuery], threshold: int | None, endpoint: str
) -> list[list[dict[str, Any]]]:
    """A few hashes: answered on the event loop (microseconds of index search, no thread
    hop), unless an import or withdrawal holds the index: then on a worker thread, so the
    loop never waits for it."""
    if svc.keeper.busy() or len(queries) > 8:
        return await run_in_threadpool(lookup_hashes, svc, p, queries, threshold, endpoint)
    return lookup_hashes(svc, p, queries, threshold, endpoint)


def _query(signal_type: str, signal: str) -> HashQuery:
    if not signal_type or not signal:
        raise HTTPException(422, "signal_type and signal are required")
    if len(signal) > 200:
        raise HTTPException(422, "signal: too long for a hash")
    try:
        return parse_query(signal_type, signal)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def param(
    name: str, description: str, required: bool = True, kind: str = "string"
) -> dict[str, Any]:
    """An OpenAPI query parameter, for the hot routes that read their parameters
    themselves (FastAPI's per-parameter machinery costs more than the lookup)."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": kind},
    }


def threshold_param(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 0 <= int(raw) <= 63:
        raise HTTPException(422, "threshold must be an integer from 0 to 63")
    return int(raw)


SIGNAL_PARAMS = [
    param("signal_type", "pdq, md5, sha256 (or video_md5)"),
    param("signal", "The hash, hexadecimal"),
]


@router.get(
    "/lookup",
    response_model=LookupOut,
    summary="Look up one hash",
    openapi_extra={
        "parameters": [
            *SIGNAL_PARAMS,
            param("threshold", "PDQ distance 0-63 (default: each bank's)", False, "integer"),
        ]
    },
)
async def lookup_one(request: Request) -> Response:
    p = await authenticate(request, LOOKUP_ROLES)
    svc: Services = request.app.state.services
    args = request.query_params
    q = _query(args.get("signal_type") or "", args.get("signal") or "")
    threshold = threshold_param(args.get("threshold"))
    matches = (await lookup_hashes_async(svc, p, [q], threshold, "lookup"))[0]
    return json_response({"signal_type": q.signal_type, "signal": q.value, "matches": matches})


class FastLookup:
    """ASGI middleware: `GET /v1/lookup` answered here when all is well, without FastAPI's
    routing, dependency and middleware layers (about a third of a lookup's CPU on the
    server, more than the index search). The answer is the route's own: the same checks,
    the same domain function (lookup_hashes_async), the same JSON. Anything else, and any
    request this path would refuse (no key, an unknown or revoked key, a wrong role, a bad
    hash or threshold, over its rate, a body), goes on to the application, whose route
    answers it as before; the checks made here before that have no effect but a cached key
    lookup, except the rate: a request refused here for its rate is checked again there."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/v1/lookup"
            and scope["method"] == "GET"
            and "app" in scope
            and TRIED not in scope
        ):
            response = await fast_lookup(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


TRIED = "rempart.fast_lookup_tried"  # in the scope: FastLookupApp tried and handed it on


class FastLookupApp(FastAPI):
    """The API's FastAPI application, which tries GET /v1/lookup's fast path before
    FastAPI's own call: that call checks whether OpenTelemetry is configured on every
    request (about 16 us of CPU, more than the index search) before Starlette's error
    middleware and ours. When telemetry is configured (seen at the first lookup), lookups
    go through it as every request does, and the FastLookup middleware takes them. Anything
    the fast path would not answer, or an error in it, goes on to the application, which
    answers it as before."""

    _bypass: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/lookup" and scope["method"] == "GET":
            if self._bypass is None:
                telemetry = getattr(self, "_native_telemetry", None)
                self._bypass = not (telemetry is not None and telemetry.enabled())
            if self._bypass:
                scope["app"] = self
                try:
                    response = await fast_lookup(scope)
                except Exception:  # the application answers it, with its error handling
                    response = None
                if response is not None:
                    await response(scope, receive, send)
                    return
                scope[TRIED] = True
        await super().__call__(scope, receive, send)


class _JsonAnswer:
    """A 200 JSON answer sent as the two ASGI messages Starlette's Response sends (the same
    status, headers and body), without building a Response."""

    __slots__ = ("body",)
    status_code = 200

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(self.body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def _key_and_body(raw: list[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
    """The API key as `key_from` reads it (the first Authorization header, a Bearer one,
    else the first X-API-Key), and whether a body is announced: one pass over the raw
    headers (ASGI names are lower case) instead of a Headers object and three searches."""
    authorization: bytes | None = None
    api_key: bytes | None = None
    body = False
    for name, value in raw:
        if name == b"authorization":
            if authorization is None:
                authorization = value
        elif name == b"x-api-key":
            if api_key is None:
                api_key = value
        elif name == b"content-length" or name == b"transfer-encoding":
            body = True
    if authorization:
        text = authorization.decode("latin-1")
        if text[:7].lower() == "bearer ":
            return text[7:].strip() or None, body
    return (api_key.decode("latin-1") or None) if api_key else None, body


def _arguments(query_string: bytes) -> dict[str, str]:
    """The query's parameters as QueryParams reads them (the last value of a name wins,
    blank values kept); split by hand when nothing in it is escaped, the common case."""
    text = query_string.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(QueryParams(query_string))
    out: dict[str, str] = {}
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            out[name] = value
    return out


async def fast_lookup(scope: Scope) -> Response | _JsonAnswer | None:
    """The answer to a GET /v1/lookup, or None: the application answers (see FastLookup)."""
    key, body = _key_and_body(scope["headers"])
    if body:
        return None  # a body: the body limits apply
    svc: Services = scope["app"].state.services
    p = svc.auth.check(key) if key else None
    if p is None or p.role not in LOOKUP_ROLES:
        return None
    args = _arguments(scope["query_string"])
    try:
        q = _query(args.get("signal_type") or "", args.get("signal") or "")
        threshold = threshold_param(args.get("threshold"))
    except HTTPException:
        return None
    if await svc.limiter.take_async(p.id, p.rate) > 0:
        return None
    try:
        matches = (await lookup_hashes_async(svc, p, [q], threshold, "lookup"))[0]
    except RempartError as exc:  # as the application's handler answers it
        return errors.answer(exc)
    except Exception:
        log.exception("internal error on GET /v1/lookup")
        return JSONResponse({"detail": errors.INTERNAL}, status_code=500)
    if not matches:  # most lookups: the bytes json.dumps makes, without it
        # (a signal type from the registry's names and a hash checked as hexadecimal:
        # nothing in them to escape)
        return _JsonAnswer(
            b'{"signal_type":"%s","signal":"%s","matches":[]}'
            % (q.signal_type.encode(), q.value.encode())
        )
    answer = {"signal_type": q.signal_type, "signal": q.value, "matches": matches}
    return _JsonAnswer(json.dumps(answer, separators=(",", ":")).encode())


@router.post(
    "/lookup/batch",
    response_model=BatchOut,
    summary="Look up many hashes in one call (up to 1,000)",
)
def lookup_batch(
    body: BatchIn,
    p: Principal = Depends(require(*LOOKUP_ROLES)),
    svc: Services = Depends(services),
) -> Response:
    if len(body.queries) > svc.settings.max_batch:
        raise HTTPException(413, f"at most {svc.settings.max_batch} hashes per batch")
    queries: list[HashQuery] = []
    for n, item in enumerate(body.queries):
        try:
            queries.append(parse_query(item.signal_type, item.signal))
        except ValueError as exc:
            raise HTTPException(422, f"query {n}: {exc}") from exc
    results = lookup_hashes(svc, p, queries, body.threshold, "batch")
    return json_response(
        {
            "results": [
                {"signal_type": q.signal_type, "signal": q.value, "matches": r}
                for q, r in zip(queries, results, strict=True)
            ]
        }
    )


def media_result(
    svc: Services,
    p: Principal,
    summary: dict[str, Any],
    hits: list[Hit],
    endpoint: str,
    synthetic: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    cases = visible_cases(svc.db, p, [hits])
    matches = present(hits, p, cases)
    key = summary.get("pdq") or summary["sha256"]
    svc.querylog.add(
        p.tenant_id,
        p.id,
        endpoint,
        [
            (
                "pdq" if summary.get("pdq") else "sha256",
                key,
                [
                    {"bank": h["bank"], "bank_entry": h["bank_entry"], "distance": h["distance"]}
                    for h in matches
                ],
            )
        ],
    )
    return {"hashes": summary, "matches": matches, "synthetic": synthetic or []}


def file_signals(data: bytes, name: str) -> list[dict[str, Any]]:
    """The synthetic-media signals of an uploaded or fetched file (scan/synthetic.py: the
    scan's own function; nothing is kept)."""
    return item_findings(None, data, suffix=Path(name or "").suffix)


@router.post(
    "/hash",
    summary="Hash a picture or video (nothing is kept)",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def hash_file(
    request: Request,
    p: Principal = Depends(require(*LOOKUP_ROLES)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    data, name = await read_upload(request)
    hashes = await run_in_threadpool(svc.lookups.hash, data, name)
    return hashes.summary


@router.post(
    "/lookup/file",
    response_model=MediaOut,
    summary="Hash a picture or video and look it up (all signal types)",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            }
        }
    },
)
async def lookup_file(
    request: Request,
    p: Principal = Depends(require(*LOOKUP_ROLES)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    data, name = await read_upload(request)
    summary, hits = await run_in_threadpool(svc.lookups.media, p, data, name)
    synthetic = await run_in_threadpool(file_signals, data, name)
    return await run_in_threadpool(media_result, svc, p, summary, hits, "file", synthetic)


def fetch_url(svc: Services, url: str) -> bytes:
    """The bytes at a URL, fetched safely: private, loopback and link-local addresses are
    refused, on every redirect hop and on the connected address (Refused otherwise)."""
    options = FetchOptions(
        max_bytes=svc.settings.max_upload_bytes,
        deadline=svc.settings.fetch_max_seconds,
        connect_timeout=5.0,
        read_timeout=10.0,
        allowed_networks=svc.settings.fetch_allowed_networks,
    )
    timeout = httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
    try:
        with httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": options.user_agent},
        ) as client:
            data, _facts = fetch(client, url, options)
    except httpx.TimeoutException as exc:
        raise Refused("timeout", f"{url[:200]}: timed out") from exc
    except httpx.HTTPError as exc:
        raise Refused("http-error", f"{url[:200]}: {type(exc).__name__}") from exc
    return data


@router.post(
    "/lookup/url",
    response_model=MediaOut,
    summary="Fetch a URL (public addresses only) and look the media up",
)
def lookup_url(
    body: UrlIn,
    p: Principal = Depends(require(*LOOKUP_ROLES)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    data = fetch_url(svc, body.url)
    summary, hits = svc.lookups.media(p, data, "download")
    return media_result(svc, p, summary, hits, "url", file_signals(data, body.url))
