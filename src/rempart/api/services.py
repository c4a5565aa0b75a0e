"""What every API route needs, built once per server process: the shared services
(rempart.access.services: the database, key checks) and the API's own: the index keeper,
lookups, rate limits and the query log."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from rempart.access import services as shared
from rempart.access.auth import Authenticator
from rempart.access.ratelimit import FailureLimiter, RateLimiter
from rempart.api.index_keeper import IndexKeeper
from rempart.api.lookups import LookupService
from rempart.api.querylog import QueryLog
from rempart.api.settings import ApiSettings
from rempart.store.db import Database


@dataclass
class Services(shared.Services):
    settings: ApiSettings
    keeper: IndexKeeper
    lookups: LookupService
    limiter: RateLimiter
    victim_limiter: FailureLimiter
    querylog: QueryLog

    @classmethod
    def build(cls, settings: ApiSettings) -> Services:
        db = Database(settings.db_url)
        keeper = IndexKeeper(db, settings.home, settings.index_poll_s)
        return cls(
            settings=settings,
            db=db,
            keeper=keeper,
            lookups=LookupService(
                db,
                keeper,
                ttl=settings.key_cache_s,
                media_slots=settings.media_slots,
                max_video_seconds=settings.max_video_seconds,
            ),
            auth=Authenticator(db, settings.rates, settings.key_cache_s),
            limiter=RateLimiter(db, scope="api-key"),  # counted in the DB: every worker's
            victim_limiter=FailureLimiter(
                settings.victim_failures, settings.victim_window_s, db, scope="victim-secret"
            ),
            querylog=QueryLog(
                db, settings.query_log_flush_s, settings.query_log, settings.query_log_days
            ),
        )

    def start(self) -> None:
        self.keeper.start()
        self.querylog.start()

    def stop(self) -> None:
        self.querylog.stop()
        self.keeper.stop()
        super().stop()


async def services(request: Request) -> Services:
    return request.app.state.services
