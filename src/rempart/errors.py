"""One root for every error Rempart reports to a person: a message, an HTTP status, an exit code.

Why: the command line, the HTTP API and the web pages refuse the same things (an unknown bank,
a missing consent record, a malformed hash file, a picture that cannot be decoded). Each error
here carries what every front-end needs to report it, so each front-end has one handler for
all of them (as datasette's errors carry their HTTP status) instead of one `except` per kind,
and a new refusal needs no front-end change. Importing this module imports nothing else: the
`rempart` command's start-up and the lowest layers (media, signals) can use it.

The subclasses name kinds of failure, not places: a module may define its own subclass (for
example `rempart.media.errors.MediaError`) to carry more detail, always under one of these.
"""

from __future__ import annotations

from typing import ClassVar


class RempartError(Exception):
    """Something Rempart cannot do, said in words for the person who asked.

    `status` is the HTTP status an API or web answer uses; `exit_code` is the `rempart`
    command's exit status (1: stopped by an error, see README "What the scan's exit code
    means"); `code` is a short machine-readable kind for JSON answers.
    """

    status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "error"

    @property
    def message(self) -> str:
        return str(self)


class Refused(RempartError):
    """A request that is understood and refused: no consent, a state that forbids it, a rule
    (a possible minor is never revealed), a duplicate name."""

    status = 409
    code = "refused"


class NotFound(RempartError):
    """An object that does not exist, or that the asker may not see (the same answer, so
    that another organisation learns nothing from it)."""

    status = 404
    code = "not-found"


class Forbidden(RempartError):
    """The asker is known but may not do this (role, tenant)."""

    status = 403
    code = "forbidden"


class InvalidInput(RempartError):
    """A value or a file that is not what it must be: a malformed hash file, consent record,
    case number, hash list, identifier."""

    status = 422
    code = "invalid"


class TooLarge(RempartError):
    """An input over a limit that protects the machine (body size, item count, pixels)."""

    status = 413
    code = "too-large"


class Unavailable(RempartError):
    """Something needed is not ready or not reachable now (the index loading, the database,
    a partner's server during a sync); trying again later may work."""

    status = 503
    code = "unavailable"


class SetupError(RempartError):
    """The installation lacks something it needs (a key file, model files, the built page)."""

    status = 500
    code = "setup"
