"""Reading README.md as a script: its fenced blocks, and the commands in its command blocks.

tests/test_readme.py runs every command of the README in order, as a new user would type
them, so a step that is broken as written fails the test suite instead of the user. This
module only reads the Markdown; what each placeholder stands for, and the servers the
commands talk to, are the test's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)\s*$")
_FILE_NAME = re.compile(r"[\w.-]+\.json\b")


@dataclass(frozen=True)
class Block:
    """A fenced block: its language (empty for command blocks), text, first line number
    (1-based, of the text after the fence) and the prose since the previous block."""

    lang: str
    text: str
    line: int
    before: str


@dataclass(frozen=True)
class Command:
    """One command of a command block, continuation lines joined; `line` is where it starts
    in the README."""

    text: str
    line: int


def read_blocks(markdown: str) -> list[Block]:
    blocks: list[Block] = []
    prose: list[str] = []
    body: list[str] | None = None
    lang = ""
    start = 0
    for number, line in enumerate(markdown.splitlines(), 1):
        fence = _FENCE.match(line)
        if body is None:
            if fence:
                body, lang, start = [], fence.group(1), number + 1
            else:
                prose.append(line)
        elif line.strip() == "```":
            blocks.append(Block(lang, "\n".join(body), start, "\n".join(prose)))
            body, prose = None, []
        else:
            body.append(line)
    if body is not None:
        raise ValueError(f"README: the block opened at line {start - 1} is never closed")
    return blocks


def commands(block: Block) -> list[Command]:
    """The commands of a command block: a line ending in a backslash goes on on the next
    line; blank lines are skipped."""
    out: list[Command] = []
    parts: list[str] = []
    first = 0
    for offset, line in enumerate(block.text.splitlines()):
        if not parts:
            if not line.strip():
                continue
            first = block.line + offset
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1].strip())
            continue
        parts.append(line.strip())
        out.append(Command(" ".join(p for p in parts if p), first))
        parts = []
    if parts:
        out.append(Command(" ".join(parts), first))
    return out


def json_file_blocks(blocks: list[Block]) -> dict[str, str]:
    """JSON blocks that show a file's content, by the file's name: the last `*.json` name in
    the prose just before the block (e.g. "`partner-consent.json` is ...:")."""
    found: dict[str, str] = {}
    for block in blocks:
        if block.lang != "json":
            continue
        names = _FILE_NAME.findall(block.before)
        if names:
            found.setdefault(names[-1], block.text)
    return found


def readme(root: Path) -> str:
    return (root / "README.md").read_text(encoding="utf-8")
