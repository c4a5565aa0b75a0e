"""Her two pages (the hashing page and the case page) take their head, their language chooser
and their language code from one place (rempart.web.pageshell), put in when each page's text
is built: each built page holds them verbatim, its one inline script begins with the shared
languages.js, and its CSP allows exactly that script and that style by their SHA-256."""

from __future__ import annotations

import re

import pytest

from rempart.web import casepage, hashpage, pageshell


def _part(name: str) -> str:
    return (pageshell.folder() / name).read_text(encoding="utf-8").rstrip("\n")


@pytest.mark.parametrize("which", ["hashpage", "casepage"])
def test_each_page_is_built_from_the_shared_part(which: str) -> None:
    page = hashpage.build_page() if which == "hashpage" else casepage.build_page()
    html = page.html
    head = _part("head.html").replace("{{CSP}}", page.csp)
    head = re.sub(r"<style>\{\{CSS\}\}</style>", "<style>", head)
    assert html.count(head) == 1, which  # the shared head, up to the style's text
    assert html.count(_part("language.html")) == 1, which
    assert "{{" not in html.split("<script", 1)[0], which  # every placeholder filled
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 1, which  # one script to run, inline, allowed by its hash
    assert scripts[0].startswith(_part("languages.js")), which
    style = re.search(r"<style>(.*?)</style>", html, flags=re.S)
    assert style is not None
    assert f"script-src {pageshell.csp_source(scripts[0])};" in page.csp, which
    assert f"style-src {pageshell.csp_source(style.group(1))};" in page.csp, which


def test_fill_never_expands_a_value() -> None:
    out = pageshell.fill("<p>{{A}}|{{B}}|{{UNKNOWN}}</p>", {"A": "{{B}}", "B": "b"})
    assert out == "<p>{{B}}|b|{{UNKNOWN}}</p>"
