"""Settings from the environment: REMPART_HOME (working folder) and REMPART_DB (database URL)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str

    @property
    def index_dir(self) -> Path:
        return self.home / "index"


def _default_home() -> Path:
    return Path(os.environ.get("REMPART_HOME") or Path.home() / ".rempart")


def db_url_from(value: str | None, home: Path) -> str:
    """Turn REMPART_DB (a URL or a plain file path) into an SQLAlchemy URL."""
    if not value:
        return f"sqlite:///{home / 'rempart.db'}"
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def load_settings(db: str | None = None, home: Path | None = None) -> Settings:
    """Settings from flags first, then environment variables, then defaults."""
    home = home or _default_home()
    return Settings(home=home, db_url=db_url_from(db or os.environ.get("REMPART_DB"), home))
