"""The roles an API key may hold and their default request rates: the key store, the API's
settings and the `rempart apikey` command all read them from here."""

from __future__ import annotations

ROLES = ("admin", "caseworker", "platform", "victim", "partner")  # partner: sync (docs/sync.md)
# Requests per second per key (a bucket twice as deep absorbs bursts); a key may set its own.
DEFAULT_RATES = {
    "admin": 50.0,
    "caseworker": 50.0,
    "platform": 200.0,
    "victim": 5.0,
    "partner": 10.0,
}
