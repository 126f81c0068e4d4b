"""SMS-man's countries, apps and prices, cached: names for hours, prices for about a minute."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.clock import Clock
from bot.countries import iso_code
from bot.smsman.client import SmsManClient
from bot.smsman.errors import SmsManError
from bot.smsman.models import Application, Price

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMES_TTL = 6 * 3600.0
PRICES_TTL = 60.0
# After a failed refresh the stale copy is served this long before the provider is asked again.
RETRY_AFTER_FAILURE = 10.0


@dataclass(frozen=True, slots=True)
class CatalogCountry:
    id: int
    title: str
    iso: str | None


class _Cached(Generic[T]):
    """One cached value with single-flight refresh and stale-on-error."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._value: T | None = None
        self._expires = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, now: Clock, fetch: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        if not fresh and self._value is not None and now() < self._expires:
            return self._value
        async with self._lock:
            # Another caller may have refreshed it while this one waited for the lock.
            if not fresh and self._value is not None and now() < self._expires:
                return self._value
            try:
                value = await fetch()
            except SmsManError as exc:
                if self._value is None:
                    raise
                log.warning("serving a stale catalog copy: %s", exc)
                self._expires = now() + RETRY_AFTER_FAILURE
                return self._value
            self._value, self._expires = value, now() + self._ttl
            return value


class Catalog:
    """The only reader of SMS-man's catalog endpoints; a page flip never calls the provider."""

    def __init__(
        self,
        smsman: SmsManClient,
        clock: Clock,
        currency: str,
        *,
        names_ttl: float = NAMES_TTL,
        prices_ttl: float = PRICES_TTL,
    ) -> None:
        self._smsman = smsman
        self._clock = clock
        self.currency = currency
        self._prices_ttl = prices_ttl
        self._countries: _Cached[dict[int, CatalogCountry]] = _Cached(names_ttl)
        self._apps: _Cached[dict[int, Application]] = _Cached(names_ttl)
        self._all_prices: _Cached[list[Price]] = _Cached(prices_ttl)
        self._prices: dict[int, _Cached[dict[int, Price]]] = {}

    async def countries(self) -> dict[int, CatalogCountry]:
        return await self._countries.get(self._clock, self._fetch_countries)

    async def applications(self) -> dict[int, Application]:
        return await self._apps.get(self._clock, self._fetch_apps)

    async def prices(self, country_id: int, *, fresh: bool = False) -> dict[int, Price]:
        """Prices of one country by app id; `fresh` skips the cache (used right before a buy)."""
        cached = self._prices.setdefault(country_id, _Cached(self._prices_ttl))

        async def fetch() -> dict[int, Price]:
            rows = await self._smsman.get_prices(country_id=country_id)
            return {p.application_id: p for p in rows if p.country_id == country_id}

        return await cached.get(self._clock, fetch, fresh=fresh)

    async def cheapest_countries(self, application_id: int) -> list[Price]:
        """Countries that have this app in stock, cheapest first."""
        rows = await self._all_prices.get(self._clock, self._smsman.get_prices)
        offers = [p for p in rows if p.application_id == application_id and p.count > 0]
        return sorted(offers, key=lambda p: (p.cost, p.country_id))

    async def _fetch_countries(self) -> dict[int, CatalogCountry]:
        return {
            c.id: CatalogCountry(c.id, c.title, iso_code(c.code, c.title))
            for c in await self._smsman.countries()
        }

    async def _fetch_apps(self) -> dict[int, Application]:
        return {a.id: a for a in await self._smsman.applications()}
