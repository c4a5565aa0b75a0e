"""The caseworker web UI (docs/web.md), served by `rempart serve` under /ui: server-rendered
pages (Jinja2), a little JavaScript, everything served from this package (no CDN).
rempart.server adds it to the server's application (web/app.py: `mount`)."""
