"""The store's refusal, in a module of its own: the command line catches it in every command,
and importing it must not import SQLAlchemy and the models (the `rempart` command's
start-up). `rempart.store.repository.StoreError` is the same class."""

from __future__ import annotations

from rempart.errors import RempartError


class StoreError(RempartError):
    """A request the store refuses (unknown bank, duplicate name, missing consent...)."""

    status = 400
    code = "refused"
