"""Outside text made safe to print on a terminal through rich.

Chat names, senders, captions, file names, case labels, URLs and bank names come from
exports, archives, partners' lists and the command line of whoever made them: a hostile one
can carry terminal escape sequences (clear the screen, fake text, plant an OSC-8 link),
control characters, bidi overrides that reorder what is shown, or rich markup (`[/bold]`
crashes a print with MarkupError, `[reverse]EVIL.jpg` is shown as `EVIL.jpg`). Every such
string goes through `safe()` (or `plain()` where rich markup is off) before it is printed,
so one helper decides what reaches the terminal.
"""

from __future__ import annotations

import re

from rich.markup import escape

# Whole escape sequences first (so their parameters do not remain as visible text):
# CSI (ESC [ ... final byte, or the 8-bit CSI), OSC/DCS/SOS/PM/APC strings up to their
# terminator (BEL or ST, 7- or 8-bit), then any other two-byte ESC sequence.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[\x20-\x3f]*[\x40-\x7e]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x7e]?"
)
# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text
# (bidi embeddings, overrides and isolates, marks, zero-width joiners used to disguise).
_CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACES = re.compile("[\t\n\r\x0b\x0c\u2028\u2029]+")


def plain(value: object) -> str:
    """The text with escape sequences and control/bidi characters removed (line breaks
    and tabs become one space): for output where rich markup is not interpreted."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable() and "\x1b" not in text:
        return text
    text = _SEQUENCES.sub("", text)
    text = _SPACES.sub(" ", text)
    return _CONTROLS.sub("", text)


def plain_lines(value: object) -> str:
    """`plain()` for a text of several lines (a notice, a JSON document printed as it is):
    line breaks are kept, every other control character and escape sequence removed."""
    text = value if isinstance(value, str) else str(value)
    return "\n".join(plain(line) for line in text.replace("\r\n", "\n").split("\n"))


def safe(value: object) -> str:
    """The text for rich output: `plain()`, then rich markup escaped, so it is shown
    literally and can never style, link or crash the print."""
    return escape(plain(value))


def safe_or_empty(value: object) -> str:
    """`safe()` of a value that may be None (printed as nothing)."""
    return "" if value is None else safe(value)
