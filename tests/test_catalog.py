"""The catalog cache over the real client and the SMS-man emulator, on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from bot.catalog.cache import NAMES_TTL, PRICES_TTL, RETRY_AFTER_FAILURE, VIEWS_KEPT, Catalog
from bot.smsman.client import SmsManClient
from bot.smsman.errors import ProviderUnavailable
from bot.smsman.ratelimit import RateLimiter
from emulators.smsman import SmsManEmulator
from tests.conftest import SMSMAN_TOKEN, FakeClock

USA, TELEGRAM = 5, 3


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
async def catalog(smsman: SmsManEmulator, clock: FakeClock) -> AsyncIterator[Catalog]:
    async with httpx.AsyncClient() as http:
        client = SmsManClient(
            http, smsman.control_url, SecretStr(SMSMAN_TOKEN), RateLimiter(1000), sleep=no_sleep
        )
        yield Catalog(client, clock, "RUB")


def calls(smsman: SmsManEmulator, endpoint: str) -> int:
    return sum(1 for c in smsman.calls if c.endpoint == endpoint)


async def test_names_are_cached_for_hours(
    catalog: Catalog, smsman: SmsManEmulator, clock: FakeClock
) -> None:
    countries = await asyncio.gather(*(catalog.countries() for _ in range(5)))
    assert countries[0][USA].iso == "US"
    assert calls(smsman, "countries") == 1, "concurrent first reads share one request"
    clock.advance(NAMES_TTL - 1)
    await catalog.countries()
    assert calls(smsman, "countries") == 1
    clock.advance(2)
    await catalog.countries()
    assert calls(smsman, "countries") == 2


async def test_prices_are_cached_briefly_and_can_be_forced(
    catalog: Catalog, smsman: SmsManEmulator, clock: FakeClock
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=5, cost=Decimal("12.50"))
    assert (await catalog.prices(USA))[TELEGRAM].cost == Decimal("12.50")
    smsman.set_stock(USA, TELEGRAM, cost=Decimal("13.00"))
    assert (await catalog.prices(USA))[TELEGRAM].cost == Decimal("12.50")
    assert (await catalog.prices(USA, fresh=True))[TELEGRAM].cost == Decimal("13.00")
    smsman.set_stock(USA, TELEGRAM, cost=Decimal("14.00"))
    clock.advance(PRICES_TTL + 1)
    assert (await catalog.prices(USA))[TELEGRAM].cost == Decimal("14.00")


async def test_a_failed_refresh_serves_the_stale_copy(
    catalog: Catalog, smsman: SmsManEmulator, clock: FakeClock
) -> None:
    first = await catalog.applications()
    clock.advance(NAMES_TTL + 1)
    smsman.fail_next("applications", "http_500", times=3)
    assert await catalog.applications() == first
    before = calls(smsman, "applications")
    clock.advance(RETRY_AFTER_FAILURE / 2)
    await catalog.applications()
    assert calls(smsman, "applications") == before, "the provider is not hammered"
    clock.advance(RETRY_AFTER_FAILURE)
    await catalog.applications()
    assert calls(smsman, "applications") == before + 1


async def test_no_copy_and_no_provider_is_an_error(
    catalog: Catalog, smsman: SmsManEmulator
) -> None:
    smsman.fail_next("countries", "http_502", times=3)
    with pytest.raises(ProviderUnavailable):
        await catalog.countries()


async def test_cheapest_countries_have_stock_and_ascend(
    catalog: Catalog, smsman: SmsManEmulator
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=0, cost=Decimal("0.01"))
    offers = await catalog.cheapest_countries(TELEGRAM)
    assert offers
    assert all(p.count > 0 and p.application_id == TELEGRAM for p in offers)
    assert [p.cost for p in offers] == sorted(p.cost for p in offers)
    assert USA not in {p.country_id for p in offers}


async def test_views_are_built_once_per_refresh(
    catalog: Catalog, smsman: SmsManEmulator, clock: FakeClock
) -> None:
    built: list[int] = []

    async def sorted_prices() -> list[Decimal]:
        prices = await catalog.prices(USA)

        def build() -> list[Decimal]:
            built.append(len(prices))
            return sorted(p.cost for p in prices.values())

        return catalog.view(("sorted", USA), (prices,), build)

    first = await sorted_prices()
    assert await sorted_prices() is first
    assert len(built) == 1
    smsman.set_stock(USA, TELEGRAM, count=5, cost=Decimal("0.01"))
    assert await sorted_prices() is first, "the prices it was built from are still cached"
    clock.advance(PRICES_TTL + 1)
    fresh = await sorted_prices()
    assert len(built) == 2
    assert fresh[0] == Decimal("0.01")


async def test_views_kept_are_bounded(catalog: Catalog) -> None:
    source = object()
    built: list[int] = []

    def view(n: int) -> None:
        catalog.view(n, (source,), lambda: built.append(n))

    for n in range(VIEWS_KEPT + 1):
        view(n)
    view(VIEWS_KEPT)
    assert len(built) == VIEWS_KEPT + 1, "the newest views are kept"
    view(0)
    assert built[-1] == 0, "the oldest one made room and is built again"


async def test_cheapest_countries_follow_a_price_refresh(
    catalog: Catalog, smsman: SmsManEmulator, clock: FakeClock
) -> None:
    offers = await catalog.cheapest_countries(TELEGRAM)
    assert await catalog.cheapest_countries(TELEGRAM) is offers
    smsman.set_stock(USA, TELEGRAM, count=5, cost=Decimal("0.01"))
    clock.advance(PRICES_TTL + 1)
    cheapest = (await catalog.cheapest_countries(TELEGRAM))[0]
    assert (cheapest.country_id, cheapest.cost) == (USA, Decimal("0.01"))
    assert await catalog.cheapest_countries(10_000_000) == ()
