"""The `rempart` command (entry point `rempart.cli:main`).

Why a package: the frame (the Typer app and its groups, the per-run context, the one error
handler, output helpers) lives in `rempart.cli.core`; each group's commands live in a module
of `rempart.cli.commands` that imports only the frame, so every command is a module-level
function that can be imported and tested on its own. Adding a command: see "How to add a
command" in docs/architecture.md.

The command modules are imported from one list, `COMMAND_MODULES`, the first time the whole
app is needed (`main()`, or `from rempart.cli import app`), not when this package is
imported: importing one command module (`rempart.cli.commands.bank`) imports this package
and the frame, never the other command modules.

Exit codes: 0 done; 1 error (bad arguments, unreadable or malformed input file, refused
request); 2 usage error; 3 done, but some files were skipped (listed in the report).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

# In this order: the order `rempart --help` lists the top-level commands (hash, hash-page,
# scan, scan-report, rooms, match, report, serve) and each group's commands.
COMMAND_MODULES = (
    "hash",
    "inspect",
    "detector",
    "c2pa_trust",
    "scan",
    "rooms",
    "report",
    "serve",
    "bank",
    "case",
    "audit",
    "face",
    "review",
    "evidence",
    "notice",
    "apikey",
    "sync",
    "backup",
    "keys",
)

# names read through `rempart.cli.NAME`, and where they live
_EXPORTED = {
    "app": "rempart.cli.core",
    "EXIT_SKIPPED": "rempart.cli.core",
    "bank_hint": "rempart.cli.core",
    "open_database": "rempart.cli.core",
    "DEFAULT_FACE_DISTANCE": "rempart.cli.commands.scan",
}


def load_commands() -> typer.Typer:
    """The app with every command registered (each command module imported once)."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"rempart.cli.commands.{name}")
    from rempart.cli.core import app

    return app


def __getattr__(name: str) -> Any:
    if name not in _EXPORTED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    load_commands()
    return getattr(importlib.import_module(_EXPORTED[name]), name)


def main() -> None:
    load_commands()()
