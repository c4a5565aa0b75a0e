"""The security headers every HTML answer carries (the web UI's pages, the API's reference
at /docs): a strict Content-Security-Policy (only this server's scripts, styles and images,
plus data: images for charts and a revealed preview), no framing, no referrer, no caching.
Here, below both front-ends, so the API's pages and the UI's use the same ones."""

from __future__ import annotations

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
