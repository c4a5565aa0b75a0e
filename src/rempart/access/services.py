"""What every front-end served over HTTP needs from one server process: the database, the key
checks, and writing the audit chain's head after a change. The API extends it with its own
(the index keeper, lookups, rate limits, the query log: rempart.api.services); the web UI is
given the same object by rempart.server, so both see one database and one key cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rempart.access.auth import Authenticator
from rempart.config import Policy
from rempart.store import audit
from rempart.store.db import Database


class ServerSettings(Protocol):
    """The settings every front-end reads (rempart.api.settings.ApiSettings has them)."""

    @property
    def db_url(self) -> str: ...

    @property
    def home(self) -> Path: ...

    @property
    def rates(self) -> dict[str, float]: ...  # requests per second per role

    @property
    def key_cache_s(self) -> float: ...  # how long a checked key is trusted

    @property
    def policy(self) -> Policy: ...  # the organisation's (evidence media, authorisations)


@dataclass
class Services:
    settings: ServerSettings
    db: Database
    auth: Authenticator

    def start(self) -> None:
        """Start what runs in the background (nothing here; the API's keeper and log)."""

    def stop(self) -> None:
        self.db.dispose()

    def changed(self) -> None:
        """After a change through a front-end: the audit chain's head, kept outside the DB."""
        audit.write_head(self.db, self.settings.home)
