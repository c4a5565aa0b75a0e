"""Her case page (issue 14, docs/victim-page.md): with her case number and secret, or a case
she opens herself where the helpline allows it, she sends the fingerprint file her hashing
page made, follows her case as counts, and withdraws everything, from her phone's browser,
without an account. `rempart serve` serves it at /case/ (serve.py); the routes it calls are
the API's keyless /v1/case-page/... (rempart.api.routes.cases, rempart.cases.self_service).

Why a page of its own beside the hashing page: the hashing page must send nothing at all
(connect-src 'none', it works from file://), while this one must talk to the helpline's
server. So this page is one HTML text with the hashing page's look (its page.css), head,
language chooser and language code (rempart.web.pageshell), its script (case.js, plain, no
build step) and catalogues inlined, and a strict Content-Security-Policy allowing exactly
those inline blocks (by their SHA-256), connections to its own origin only, and no form
submission (the forms are sent by the script, as JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from rempart.errors import SetupError
from rempart.web import pageshell

CSP_TEMPLATE = (
    "default-src 'none'; script-src {script}; style-src {style}; img-src data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
LANGUAGES = ("en", "fr", "ko")


class CasePageError(SetupError, RuntimeError):
    """A part of the page is missing or malformed (the message names it)."""


@dataclass(frozen=True)
class CasePage:
    html: str
    csp: str

    def headers(self) -> dict[str, str]:
        """Headers for serving the page: its CSP, no referrer, no sniffing, no caching."""
        return {
            "Content-Security-Policy": self.csp,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        }


def folder() -> Traversable:
    return resources.files("rempart") / "web" / "casepage"


def catalogues(base: Traversable | None = None) -> dict[str, dict[str, object]]:
    """The page's catalogues, by language code (every one has every key of en.json)."""
    here = (base or folder()) / "i18n"
    out: dict[str, dict[str, object]] = {}
    for code in LANGUAGES:
        try:
            data = json.loads((here / f"{code}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CasePageError(f"case page catalogue {code}.json: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("strings"), dict):
            raise CasePageError(f"case page catalogue {code}.json: needs a 'strings' object")
        out[code] = data
    return out


def build_page() -> CasePage:
    """The whole page as one HTML text, with its CSP."""
    base = folder()
    css = (
        (resources.files("rempart") / "web" / "hashpage" / "page.css").read_text(encoding="utf-8")
        + "\n"
        + (base / "case.css").read_text(encoding="utf-8")
    )
    script = pageshell.script((base / "case.js").read_text(encoding="utf-8"))
    for text, what in ((css, "the style"), (script, "case.js")):
        lowered = text.lower()
        if "</style" in lowered or "</script" in lowered or "<!--" in lowered:
            raise CasePageError(f"{what} cannot be inlined ('</style', '</script' or '<!--')")
    cats = pageshell.catalogues_json(catalogues(base))
    policy = CSP_TEMPLATE.format(
        script=pageshell.csp_source(script), style=pageshell.csp_source(css)
    )
    parts = {"CSP": policy, "CSS": css, "CATALOGUES": cats, "SCRIPT": script}
    html = pageshell.fill((base / "case.html").read_text(encoding="utf-8"), parts)
    return CasePage(html=html, csp=policy)
