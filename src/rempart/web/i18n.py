"""The UI's words in English, French and Korean: one JSON catalogue per language in
web/i18n/ (key -> text, with {placeholders}), editable without touching the code. A key a
catalogue lacks falls back to English (tests check that none lacks any)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "fr", "ko")
NAMES = {"en": "English", "fr": "Français", "ko": "한국어"}


@cache
def catalogue(lang: str) -> dict[str, str]:
    text = (resources.files("rempart") / "web" / "i18n" / f"{lang}.json").read_text("utf-8")
    data = json.loads(text)
    return {str(k): str(v) for k, v in data.items()}


def pick(session_lang: str, accept_language: str | None) -> str:
    """The session's language, else the browser's first known one, else English."""
    if session_lang in LANGUAGES:
        return session_lang
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"
        self.words = catalogue(self.lang)
        self.english = catalogue("en")

    def __call__(self, key: str, **values: Any) -> str:
        text = self.words.get(key) or self.english.get(key) or key
        return text.format(**values) if values else text
