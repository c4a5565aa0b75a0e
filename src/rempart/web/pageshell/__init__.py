"""What her two pages share: the hashing page (rempart.web.hashpage, written to a file or
served at /hash/) and the case page (rempart.web.casepage, served at /case/). Both are one
HTML text with everything inlined and a Content-Security-Policy that allows exactly their
inline blocks by SHA-256; so the shared part is put in when each page's text is built, not
loaded by the browser (no request, nothing from elsewhere):

- head.html: the <head>'s content (charset, the CSP, no referrer, the viewport, the colour
  scheme, the title, the style), in a page's template as {{HEAD}};
- language.html: the language chooser of the page's top bar, as {{LANGUAGE_CHOOSER}};
- languages.js: the catalogues, picking her language, t(key), the chooser and applying a
  language (`rempartLanguages(onApply)`), inlined before the page's own script in the same
  <script> (`script`), so the CSP still allows one script by its hash.

Why: the two pages had the same head, chooser and language code by copy, and a fix to one
(the direction of a right-to-left language, each option's lang) did not reach the other."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from importlib import resources
from importlib.resources.abc import Traversable

INCLUDES = {"HEAD": "head.html", "LANGUAGE_CHOOSER": "language.html"}
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


def folder() -> Traversable:
    return resources.files("rempart") / "web" / "pageshell"


def csp_source(text: str) -> str:
    """The CSP source that allows this inline block: 'sha256-...'."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def script(own: str) -> str:
    """A page's inline script: languages.js, then the page's own."""
    return (folder() / "languages.js").read_text(encoding="utf-8") + "\n" + own


def catalogues_json(catalogues: dict[str, dict[str, object]]) -> str:
    """The catalogues as the text of <script type="application/json">: '<' escaped, so no
    tag can end the element."""
    return json.dumps(catalogues, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")


def fill(template: str, parts: dict[str, str]) -> str:
    """The page's template with the shared parts put in, then every {{NAME}} of `parts`
    replaced in one pass (a value is never searched for placeholders)."""
    base = folder()
    for name, file in INCLUDES.items():
        shared = (base / file).read_text(encoding="utf-8").rstrip("\n")
        template = template.replace("{{" + name + "}}", shared)
    return _PLACEHOLDER.sub(lambda m: parts.get(m.group(1), m.group(0)), template)
