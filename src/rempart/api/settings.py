"""The API server's settings, from the environment (so every uvicorn worker reads the same)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from rempart.access.proxies import parse_networks
from rempart.access.roles import DEFAULT_RATES as DEFAULT_RATES  # re-exported
from rempart.access.roles import ROLES as ROLES
from rempart.config import Policy, load_settings
from rempart.sources.urls import Network


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class ApiSettings:
    db_url: str
    home: Path
    max_upload_bytes: int = 50 * 1024 * 1024  # a picture or video sent to be hashed
    max_body_bytes: int = 16 * 1024 * 1024  # any other request (JSON)
    max_batch: int = 1000  # hashes per batch lookup
    # JSON values ({, [ and , bytes) in any other request body: bounds the memory a body
    # of max_body_bytes can take once parsed (16 MB of [{},{},...] would be 1.6 GB)
    max_json_items: int = 500_000
    rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    victim_failures: int = 5  # wrong secrets per case number per window, then 429
    victim_window_s: float = 900.0
    key_cache_s: float = 2.0  # how long a checked key is trusted (revocation delay)
    index_poll_s: float = 0.5  # how often the database is asked whether the index changed
    query_log_flush_s: float = 1.0
    query_log: str = "all"  # all, matches (only lookups that matched) or off
    query_log_days: float = 90.0  # older entries are deleted
    fetch_allowed_networks: tuple[Network, ...] = ()  # tests only: loopback servers
    fetch_max_seconds: float = 30.0
    media_slots: int = 2  # pictures or videos hashed at once per process
    max_video_seconds: float = 600.0  # longer videos: hash with `rempart hash` instead
    # reverse proxies whose X-Forwarded-For is believed (access/proxies.py); default none
    trusted_proxies: tuple[Network, ...] = ()

    @property
    def policy(self) -> Policy:
        """The organisation's policy (rempart.config.Policy), read from the environment when
        asked, as the command line reads it."""
        return Policy.from_env()

    @classmethod
    def from_env(cls) -> ApiSettings:
        base = load_settings()
        allowed = tuple(
            ipaddress.ip_network(n.strip())
            for n in os.environ.get("REMPART_API_FETCH_ALLOW", "").split(",")
            if n.strip()
        )
        rates = dict(DEFAULT_RATES)
        for role in ROLES:
            rates[role] = _float(f"REMPART_API_RATE_{role.upper()}", rates[role])
        return cls(
            db_url=base.db_url,
            home=base.home,
            max_upload_bytes=_int("REMPART_API_MAX_UPLOAD", cls.max_upload_bytes),
            max_body_bytes=_int("REMPART_API_MAX_BODY", cls.max_body_bytes),
            max_json_items=_int("REMPART_API_MAX_JSON_ITEMS", cls.max_json_items),
            rates=rates,
            key_cache_s=_float("REMPART_API_KEY_CACHE", cls.key_cache_s),
            index_poll_s=_float("REMPART_API_INDEX_POLL", cls.index_poll_s),
            fetch_allowed_networks=allowed,
            query_log=os.environ.get("REMPART_API_QUERY_LOG", "all"),
            query_log_days=_float("REMPART_API_QUERY_LOG_DAYS", cls.query_log_days),
            media_slots=_int("REMPART_API_MEDIA_SLOTS", min(4, os.cpu_count() or 1)),
            max_video_seconds=_float("REMPART_API_MAX_VIDEO_SECONDS", cls.max_video_seconds),
            trusted_proxies=parse_networks(os.environ.get("REMPART_TRUSTED_PROXIES", "")),
        )
