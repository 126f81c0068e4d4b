"""SMS-man's countries, apps and prices, cached: names for hours, prices for about a minute."""

from __future__ import annotations

import asyncio
import logging
import math
import operator
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar, cast

from bot.catalog.countries import iso_code
from bot.clock import Clock
from bot.logs import USER_ID
from bot.smsman.client import SmsManClient
from bot.smsman.errors import ProviderUnavailable, SmsManError
from bot.smsman.models import Application, Price
from bot.smsman.ratelimit import Party, on_behalf_of

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMES_TTL = 6 * 3600.0
PRICES_TTL = 60.0
# After a failed fetch, the stale copy (or, with none, the failure) is served this long before
# the provider is asked again: a tap meanwhile costs no request.
RETRY_AFTER_FAILURE = 5.0
# Views built from the catalog (sorted, labelled pickers) kept at once; a view of a large
# country's apps holds about a megabyte, and a miss only costs rebuilding it.
VIEWS_KEPT = 32


@dataclass(frozen=True, slots=True)
class CatalogCountry:
    id: int
    title: str
    iso: str | None


@dataclass(eq=False)
class _Fetch(Generic[T]):
    task: asyncio.Task[T]
    party: Party
    waiting: int = 0


class Cached(Generic[T]):
    """One cached value. One fetch in flight, shared by every caller waiting for it, and made
    in each of their turns at the rate limiter (a `Party`), so joining someone's queued read
    never puts a person behind that someone's queue. After a failure, of any kind, the last
    good copy is served; with none, the failure itself is, without asking SMS-man again,
    until RETRY_AFTER_FAILURE passes."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._value: T | None = None
        self._expires = -math.inf
        self._failure: SmsManError | None = None
        self._failed_until = -math.inf
        self._fetch: _Fetch[T] | None = None

    async def get(self, now: Clock, fetch: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        """`fresh` skips the copy, not a fetch in flight (it left at most a round trip ago) nor
        a failure just seen."""
        if not fresh and self._value is not None and now() < self._expires:
            return self._value
        if now() < self._failed_until:
            if self._value is not None:
                return self._value
            assert self._failure is not None
            raise self._failure
        shared = self._fetch
        if shared is None:
            party = Party(USER_ID.get())
            task = asyncio.create_task(self._refresh(now, fetch, party))
            shared = self._fetch = _Fetch(task, party)
        else:
            shared.party.join(USER_ID.get())
        shared.waiting += 1
        try:
            return await asyncio.shield(shared.task)
        finally:
            shared.waiting -= 1
            if not shared.waiting and not shared.task.done():
                # Nobody waits for it any more (the taps were cancelled): it leaves the queue,
                # and whoever asks next starts afresh.
                shared.task.cancel()
                if self._fetch is shared:
                    self._fetch = None

    async def _refresh(self, now: Clock, fetch: Callable[[], Awaitable[T]], party: Party) -> T:
        try:
            with on_behalf_of(party):
                value = await fetch()
        except Exception as exc:
            failure = exc if isinstance(exc, SmsManError) else unreadable(exc)
            self._failed_until = now() + RETRY_AFTER_FAILURE
            if self._value is None:
                self._failure = failure
                raise failure from None
            log.warning("serving a stale catalog copy: %s", failure)
            return self._value
        finally:
            if self._fetch is not None and self._fetch.task is asyncio.current_task():
                self._fetch = None
        self._value, self._expires = value, now() + self._ttl
        self._failed_until = -math.inf
        return value


def unreadable(exc: Exception) -> SmsManError:
    """Anything else a fetch raised: a catalog we could not read, which people are told as
    SMS-man not answering (and the log has the reason)."""
    log.error("a catalog answer could not be read", exc_info=exc)
    return ProviderUnavailable(f"SMS-man catalog: unreadable answer ({type(exc).__name__})")


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
        self._countries: Cached[dict[int, CatalogCountry]] = Cached(names_ttl)
        self._apps: Cached[dict[int, Application]] = Cached(names_ttl)
        self._all_prices: Cached[list[Price]] = Cached(prices_ttl)
        self._prices: dict[int, Cached[dict[int, Price]]] = {}
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
        cached = self._prices.setdefault(country_id, Cached(self._prices_ttl))

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
