"""SMS-man's countries, apps and prices, cached: names for hours, prices for about a minute."""

from __future__ import annotations

import asyncio
import logging
import operator
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar, cast

from bot.catalog.countries import iso_code
from bot.clock import Clock
from bot.smsman.client import SmsManClient
from bot.smsman.errors import SmsManError
from bot.smsman.models import Application, Price

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMES_TTL = 6 * 3600.0
PRICES_TTL = 60.0
# After a failed refresh the stale copy is served this long before the provider is asked again.
RETRY_AFTER_FAILURE = 10.0
# Views built from the catalog (sorted, labelled pickers) kept at once; a view of a large
# country's apps holds about a megabyte, and a miss only costs rebuilding it.
VIEWS_KEPT = 32


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
        person_price: Callable[[Decimal], Decimal] = lambda cost: cost,
    ) -> None:
        # What a person pays for an offer of a given provider cost (the selling price in
        # wallet mode): every price a person sees goes through it.
        self.person_price = person_price
        self._smsman = smsman
        self._clock = clock
        self.currency = currency
        self._prices_ttl = prices_ttl
        self._countries: _Cached[dict[int, CatalogCountry]] = _Cached(names_ttl)
        self._apps: _Cached[dict[int, Application]] = _Cached(names_ttl)
        self._all_prices: _Cached[list[Price]] = _Cached(prices_ttl)
        self._prices: dict[int, _Cached[dict[int, Price]]] = {}
        self._views: OrderedDict[Hashable, tuple[tuple[object, ...], object]] = OrderedDict()

    def view(self, key: Hashable, sources: tuple[object, ...], build: Callable[[], T]) -> T:
        """What `build` makes of `sources` (values this catalog returned), made once per key and
        kept until any of those values is refreshed: a page flip then costs no re-sorting."""
        kept = self._views.get(key)
        # Identity, not equality: a refreshed copy is a new object, and comparing two catalogs
        # of a thousand apps would cost more than the view saves.
        if (
            kept is not None
            and len(kept[0]) == len(sources)
            and all(map(operator.is_, kept[0], sources))
        ):
            self._views.move_to_end(key)
            return cast(T, kept[1])
        value = build()
        self._views[key] = (sources, value)
        self._views.move_to_end(key)
        while len(self._views) > VIEWS_KEPT:
            self._views.popitem(last=False)
        return value

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

    async def cheapest_countries(self, application_id: int) -> Sequence[Price]:
        """Countries that have this app in stock, cheapest first; the same list object until
        the prices are refreshed, so views built from it are kept as long."""
        rows = await self._all_prices.get(self._clock, self._smsman.get_prices)

        def by_app() -> dict[int, list[Price]]:
            offers: dict[int, list[Price]] = {}
            for price in rows:
                if price.count > 0:
                    offers.setdefault(price.application_id, []).append(price)
            for listed in offers.values():
                listed.sort(key=lambda p: (p.cost, p.country_id))
            return offers

        return self.view("offers by app", (rows,), by_app).get(application_id, ())

    async def _fetch_countries(self) -> dict[int, CatalogCountry]:
        return {
            c.id: CatalogCountry(c.id, c.title, iso_code(c.code, c.title))
            for c in await self._smsman.countries()
        }

    async def _fetch_apps(self) -> dict[int, Application]:
        return {a.id: a for a in await self._smsman.applications()}
