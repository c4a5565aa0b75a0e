"""Old import path, kept working: the commands are in `rempart.cli.commands.apikey`,
`.serve`, `.bank` (share) and `.case` (assign)."""

from rempart.cli.commands.apikey import ROLES

__all__ = ["ROLES"]
