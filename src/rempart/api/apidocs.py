"""The API reference at /docs (and /redoc): one page generated on the server from the
OpenAPI schema, with no script and nothing fetched from elsewhere. FastAPI's own pages load
Swagger UI and ReDoc from a CDN: a third party would see who reads the docs and could serve
them a script. The page carries the web UI's security headers (strict CSP, no framing); the
schema itself stays at /openapi.json (docs/api.md)."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi.responses import HTMLResponse

from rempart.access.headers import HEADERS

METHODS = ("get", "post", "put", "patch", "delete")


def _params(op: dict[str, Any]) -> str:
    rows = []
    for p in op.get("parameters", []):
        kind = (p.get("schema") or {}).get("type", "")
        rows.append(
            f"<li><code>{escape(str(p.get('name', '')))}</code> "
            f"({escape(str(p.get('in', '')))}{', ' + escape(str(kind)) if kind else ''}"
            f"{', required' if p.get('required') else ''})"
            f"{': ' + escape(str(p['description'])) if p.get('description') else ''}"
            "</li>"
        )
    body = op.get("requestBody", {}).get("content", {})
    if body:
        rows.append(f"<li>body: {escape(', '.join(sorted(body)))}</li>")
    return f"<ul>{''.join(rows)}</ul>" if rows else ""


def page(schema: dict[str, Any]) -> HTMLResponse:
    info = schema.get("info", {})
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(str(info.get('title', 'API')))}</title>",
        '<link rel="stylesheet" href="/ui/static/app.css"></head><body><main>',
        f"<h1>{escape(str(info.get('title', '')))} {escape(str(info.get('version', '')))}</h1>",
        f"<p>{escape(str(info.get('description', '')))}</p>",
        '<p>The machine-readable schema: <a href="/openapi.json">/openapi.json</a>. '
        "Examples: docs/api.md.</p>",
    ]
    by_tag: dict[str, list[str]] = {}
    for path, operations in sorted(schema.get("paths", {}).items()):
        for method in METHODS:
            op = operations.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(
                f"<li><code>{method.upper()} {escape(path)}</code> "
                f"{escape(str(op.get('summary', '')))}{_params(op)}</li>"
            )
    for tag, items in by_tag.items():
        parts.append(f"<h2>{escape(tag)}</h2><ul>{''.join(items)}</ul>")
    parts.append("</main></body></html>")
    return HTMLResponse("".join(parts), headers=dict(HEADERS))
