"""The catalog cache over the real client and the SMS-man emulator, on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from bot.catalog.cache import (
    NAMES_TTL,
    PRICES_TTL,
    RETRY_AFTER_FAILURE,
    VIEWS_KEPT,
    Cached,
    Catalog,
)
from bot.logs import USER_ID
from bot.smsman.client import SmsManClient
from bot.smsman.errors import ProviderUnavailable
from bot.smsman.ratelimit import RateLimiter
from emulators.smsman import COUNTRIES, SmsManEmulator
from tests.conftest import SMSMAN_MAX_RPS, SMSMAN_TOKEN, FakeClock
from tests.sim.effects import Effects
from tests.sim.loop import virtual_loop
from tests.sim.smsman_transport import InProcessTransport

USA, TELEGRAM = 5, 3


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
async def catalog(smsman: SmsManEmulator, clock: FakeClock) -> AsyncIterator[Catalog]:
    async with httpx.AsyncClient() as http:
        client = SmsManClient(
            http,
            smsman.control_url,
            SecretStr(SMSMAN_TOKEN),
            RateLimiter(SMSMAN_MAX_RPS),
            sleep=no_sleep,
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


async def test_waiters_share_one_fetch_and_its_failure(
    catalog: Catalog, smsman: SmsManEmulator
) -> None:
    """Each waiter used to fetch again after the one before failed: five taps on a catalog
    SMS-man cannot give made five times the requests."""
    smsman.fail_next("countries", "http_500", times=3)
    answers = await asyncio.gather(*(catalog.countries() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(answer, ProviderUnavailable) for answer in answers), answers
    assert calls(smsman, "countries") == 3, "one fetch, its three attempts"


async def test_a_failure_with_nothing_cached_is_remembered_a_few_seconds(
    catalog: Catalog, smsman: SmsManEmulator, clock: FakeClock
) -> None:
    smsman.fail_next("get-prices", "http_502", times=3)
    with pytest.raises(ProviderUnavailable):
        await catalog.prices(USA)
    clock.advance(RETRY_AFTER_FAILURE / 2)
    with pytest.raises(ProviderUnavailable):
        await catalog.prices(USA)
    assert calls(smsman, "get-prices") == 3, "answered from memory"
    clock.advance(RETRY_AFTER_FAILURE)
    assert await catalog.prices(USA)
    assert calls(smsman, "get-prices") == 4


async def test_any_failure_serves_the_last_good_copy() -> None:
    """A fetch that fails in a way nobody foresaw (a parsing bug, say) is SMS-man's catalog
    being unreadable: the last good copy, or with none the provider-error screen."""
    clock = FakeClock()
    cached: Cached[str] = Cached(ttl=60)

    async def broken() -> str:
        raise ValueError("a bug")

    async def good() -> str:
        return "catalog"

    with pytest.raises(ProviderUnavailable, match="unreadable"):
        await cached.get(clock, broken)
    clock.advance(RETRY_AFTER_FAILURE + 1)
    assert await cached.get(clock, good) == "catalog"
    clock.advance(61)
    assert await cached.get(clock, broken) == "catalog"


def in_process_catalog(emulator: SmsManEmulator, limiter: RateLimiter) -> Catalog:
    http = httpx.AsyncClient(transport=InProcessTransport(emulator, Effects()))
    client = SmsManClient(
        http, "http://smsman.invalid/control", SecretStr(SMSMAN_TOKEN), limiter, sleep=no_sleep
    )
    return Catalog(client, FakeClock(), "RUB")


def test_a_shared_read_goes_at_the_turn_of_anyone_waiting_for_it() -> None:
    """One person's ten uncached reads queue in their turn; another person's tap on the last
    of those countries joins that read, which then goes at the second person's own turn."""

    async def scenario() -> tuple[float, float]:
        emulator = SmsManEmulator(token=SMSMAN_TOKEN, max_rps=1)
        catalog = in_process_catalog(emulator, RateLimiter(1))
        flood = sorted(COUNTRIES)[:10]

        async def read(person: int, country: int) -> float:
            USER_ID.set(person)
            await catalog.prices(country)
            return asyncio.get_running_loop().time()

        floods = [asyncio.create_task(read(1, country)) for country in flood]
        await asyncio.sleep(0)
        mine = await read(2, flood[-1])
        last = max(await asyncio.gather(*floods))
        assert emulator.rate_refusals == 0
        assert calls(emulator, "get-prices") == len(flood), "the shared read went once"
        return mine, last

    with virtual_loop() as loop:
        mine, last = loop.run(scenario())
    assert mine <= 2.01, "at the second person's first turn, not behind ten of the first's"
    assert last >= 9


def test_a_read_nobody_waits_for_any_more_leaves_the_queue() -> None:
    async def scenario() -> None:
        emulator = SmsManEmulator(token=SMSMAN_TOKEN, max_rps=1)
        limiter = RateLimiter(1)
        catalog = in_process_catalog(emulator, limiter)
        await catalog.countries()  # the only unit counts for a second from now
        tap = asyncio.create_task(catalog.prices(USA))
        await asyncio.sleep(0.5)
        assert limiter.waiting(background=False) == 1
        tap.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert limiter.waiting(background=False) == 0
        await asyncio.sleep(1)
        assert calls(emulator, "get-prices") == 0, "cancelled before it was sent"
        assert await catalog.prices(USA), "no failure remembered: asked afresh"

    with virtual_loop() as loop:
        loop.run(scenario())
