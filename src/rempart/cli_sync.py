"""Old import path, kept working: the commands are in `rempart.cli.commands.sync`."""

from rempart.cli.commands.sync import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT"]
