"""Pages from Jinja2 templates (autoescaped), with the security headers every UI answer
carries (rempart.access.headers: a strict Content-Security-Policy, no framing, no referrer,
no caching; the API's reference page carries the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from rempart.access.headers import HEADERS as HEADERS  # the UI answers carry these
from rempart.web.i18n import LANGUAGES, NAMES, Translator

env = Environment(
    loader=PackageLoader("rempart.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | float | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float | int):
        value = datetime.fromtimestamp(value)
    if isinstance(value, str):
        return value.replace("T", " ")[:16]
    return value.strftime("%Y-%m-%d %H:%M")


env.filters["when"] = _when


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    t: Translator = request.state.t
    body = env.get_template(template).render(
        t=t,
        lang=t.lang,
        languages=LANGUAGES,
        language_names=NAMES,
        user=getattr(request.state, "user", None),
        csrf=request.state.session.csrf,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(body, status_code=status_code)
