"""Her own hashing page (docs/victim-page.md): one self-contained HTML file in which she hashes
her photos and videos in her phone's browser, with nothing to install and nothing sent.

Why one file: it must work opened from disk (file://) with no network, and be hostable as it
is (`rempart serve` serves it at /hash/). So the style, the catalogues (i18n/*.json: adding a
language is adding a file), the page's script and the hashing worker's script (built by
`make hashpage` into dist/, the worker kept as inert text and started from a blob: URL) are
all inlined here, with the head, the language chooser and the language code it shares with
her case page (rempart.web.pageshell), and a strict Content-Security-Policy allows exactly
those inline blocks (by their SHA-256) and nothing else: no connection, no remote script,
style, font or image.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from rempart.errors import SetupError
from rempart.web import pageshell

GENERATOR = "rempart-page 0.1.0"

# The page's policy; the served page adds what only a header can say (frame-ancestors).
CSP_TEMPLATE = (
    "default-src 'none'; script-src {script}; style-src {style}; img-src blob: data:; "
    "media-src blob:; worker-src blob:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'"
)
HEADER_EXTRA = "; frame-ancestors 'none'"
_LANG_FILE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?\.json$")


class HashPageError(SetupError, RuntimeError):
    """The page cannot be written (its scripts were not built, or a part is malformed); the
    message says what to do."""


@dataclass(frozen=True)
class HashPage:
    html: str
    csp: str  # the policy in the page's <meta>

    @property
    def header_csp(self) -> str:
        """The policy as the served page's header (adds frame-ancestors 'none')."""
        return self.csp + HEADER_EXTRA

    def headers(self) -> dict[str, str]:
        """Headers for serving the page: its CSP, no referrer, no sniffing, no caching."""
        return {
            "Content-Security-Policy": self.header_csp,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        }


def page_folder() -> Traversable:
    return resources.files("rempart") / "web" / "hashpage"


def _script_text(text: str, what: str) -> str:
    """Text safe to put inside a <script> element as it is (it must not end the element)."""
    lowered = text.lower()
    if "</script" in lowered or "<!--" in lowered:
        raise HashPageError(
            f"{what} contains '</script' or '<!--' and cannot be inlined; "
            "rebuild it with `make hashpage`"
        )
    return text


def catalogues(folder: Traversable | None = None) -> dict[str, dict[str, object]]:
    """Every language catalogue of the page, by language code (its file name)."""
    base = (folder or page_folder()) / "i18n"
    out: dict[str, dict[str, object]] = {}
    for entry in sorted(base.iterdir(), key=lambda e: e.name):
        if not _LANG_FILE.match(entry.name):
            continue
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HashPageError(f"hashing page catalogue {entry.name} is malformed: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("strings"), dict):
            raise HashPageError(f"hashing page catalogue {entry.name}: needs a 'strings' object")
        out[entry.name.removesuffix(".json")] = data
    if "en" not in out:
        raise HashPageError("hashing page: the English catalogue (i18n/en.json) is missing")
    return out


def build_page(folder: Traversable | None = None) -> HashPage:
    """The whole page as one HTML text, with its CSP. HashPageError when dist/ is missing."""
    base = folder or page_folder()
    dist = base / "dist"
    scripts: dict[str, str] = {}
    for name in ("page", "worker"):
        f = dist / f"{name}.js"
        if not f.is_file():
            raise HashPageError(
                f"the hashing page's scripts are not built ({name}.js missing in "
                f"{dist}): run `make hashpage` (needs Node.js and npm) in Rempart's folder"
            )
        scripts[name] = _script_text(f.read_text(encoding="utf-8"), f"dist/{name}.js")
    css = (base / "page.css").read_text(encoding="utf-8")
    if "</style" in css.lower():
        raise HashPageError("page.css contains '</style'")
    cats = pageshell.catalogues_json(catalogues(base))
    page_script = _script_text(pageshell.script(scripts["page"]), "the page's script")
    policy = CSP_TEMPLATE.format(
        script=pageshell.csp_source(page_script), style=pageshell.csp_source(css)
    )
    parts = {
        "CSP": policy,
        "CSS": css,
        "CATALOGUES": cats,
        "WORKER": scripts["worker"],
        "PAGE": page_script,
    }
    html = pageshell.fill((base / "page.html").read_text(encoding="utf-8"), parts)
    return HashPage(html=html, csp=policy)


def write_page(out: Path) -> HashPage:
    """Write the page to a file (atomically)."""
    page = build_page()
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page.html, encoding="utf-8")
    tmp.replace(out)
    return page
