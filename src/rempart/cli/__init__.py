"""The `rempart` command (entry point `rempart.cli:main`).

Why a package: the frame (the Typer app and its groups, the per-run context, the one error
handler, output helpers) lives in `rempart.cli.app`; each group's commands live in a module
of `rempart.cli.commands` that imports only the frame, so every command is a module-level
function that can be imported and tested on its own. Adding a command: see "How to add a
command" in docs/architecture.md.

Exit codes: 0 done; 1 error (bad arguments, unreadable or malformed input file, refused
request); 2 usage error; 3 done, but some files were skipped (listed in the report).
"""

from __future__ import annotations

import importlib

from rempart.cli.app import EXIT_SKIPPED, app, bank_hint, open_database

# Imported in this order: the order `rempart --help` lists the top-level commands (hash,
# hash-page, scan, scan-report, rooms, match, report, serve) and each group's commands.
COMMAND_MODULES = (
    "hash", "scan", "report", "serve", "bank", "case", "audit", "face", "review",
    "evidence", "notice", "apikey", "sync",
)  # fmt: skip

for _name in COMMAND_MODULES:
    importlib.import_module(f"rempart.cli.commands.{_name}")

# after the list: importing it first would put `scan` before `hash` in --help
from rempart.cli.commands.scan import DEFAULT_FACE_DISTANCE  # noqa: E402

__all__ = ["COMMAND_MODULES", "DEFAULT_FACE_DISTANCE", "EXIT_SKIPPED", "app", "bank_hint",
           "main", "open_database"]  # fmt: skip


def main() -> None:
    app()
