"""Hostile catalogs through the real client: what our screens cannot show is dropped, every
picker page draws in every language, and every button's data fits Telegram's 64 bytes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.catalog.cache import Catalog
from bot.catalog.popular import Popularity
from bot.smsman import parsing
from bot.smsman.client import SmsManClient
from bot.smsman.errors import SmsManError
from bot.smsman.ratelimit import RateLimiter
from bot.storage.database import Database
from handlers.listings import Listing, all_apps, apps, cheapest, countries
from keyboards.callbacks import INT_LIMIT, AppsCb, CheapestCb, PriceCb
from tests.conftest import FakeClock

PERSON = 42
LOCALES = ("en", "ru", "zh")
MAX_CALLBACK_BYTES = 64

# Good entries have ids from 1 to 60; hostile ones never parse to those, so every good entry
# must come through whatever surrounds it.
GOOD = range(1, 61)
odd_ids: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([0, -1, -(2**63), 61, 2**63 - 1, 2**63, 2**64, 10**24, 10**25 - 1]),
    st.integers(-(2**70), 2**70).filter(lambda n: n not in GOOD),
)
id_values = st.one_of(
    odd_ids,
    odd_ids.map(str),
    st.sampled_from(["", " 77 ", "0077", "-0", "²", "٣", "１", "1e3", "1.0", "abc", "9" * 5000]),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)
costs = st.one_of(
    st.sampled_from(["1e30", "1E3", "²", "١٢", "NaN", "-1", "", " ", "Infinity", "+5", "1_000"]),
    st.sampled_from(["12,50", "1000000000.01", str(10**30), "9" * 27 + ".99", str(10**40)]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 10**40),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
counts = st.one_of(
    st.integers(-5, 10**12),
    st.sampled_from(["", "²", "3", "-1", "1e3", "10"]),
    st.none(),
    st.floats(allow_nan=True),
)
titles = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "   ", "<b>x</b> & <i>", "🇺🇸 USA", "Россия", "中国", "x" * 300]),
    st.none(),
    st.integers(),
)
named = st.one_of(
    st.fixed_dictionaries(
        {"id": id_values, "title": titles},
        optional={"code": st.one_of(st.text(max_size=4), st.none(), st.just("us"))},
    ),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=4),
    st.none(),
)
keys = id_values.map(lambda value: value if isinstance(value, str) else json.dumps(value))
price = st.one_of(
    st.fixed_dictionaries(
        {"cost": costs},
        optional={"count": counts, "application_id": id_values, "country_id": id_values},
    ),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=4),
)
good_title = st.text(min_size=1, max_size=20).filter(str.strip)
good_cost = st.one_of(
    st.decimals(min_value=0, max_value=10**9, places=2).map(str),
    st.integers(0, 10**6),
    st.sampled_from([12.5, "0.01", "999999999.99"]),
)


@dataclass
class Hostile:
    """SMS-man's four catalog answers, and the buttons their good entries must give."""

    bodies: dict[str, Any]
    expected: dict[str, set[str]]


def mixed(draw: st.DrawFn, odd: st.SearchStrategy[Any], good: dict[str, Any]) -> Any:
    """The good entries among odd ones, as an object or (for names) a list."""
    entries = draw(st.dictionaries(keys, odd, max_size=6))
    entries.update(good)
    if draw(st.booleans()):
        return entries
    listed = list(entries.values())
    return draw(st.permutations(listed))


@st.composite
def hostile_catalogs(draw: st.DrawFn) -> Hostile:
    def ids() -> list[int]:
        return sorted(draw(st.sets(st.sampled_from(GOOD), max_size=4)))

    def entry(ident: int) -> dict[str, Any]:
        value = {"id": draw(st.sampled_from([ident, str(ident)])), "title": draw(good_title)}
        return value | ({"code": "us"} if draw(st.booleans()) else {})

    def offer(shown: list[int], ident: int) -> dict[str, Any]:
        """A good offer (then `shown`), or a good id with an odd cost or count."""
        cost: Any = draw(good_cost)
        count: Any = draw(st.integers(1, 10**9))
        match draw(st.sampled_from(["good", "odd cost", "odd count"])):
            case "good":
                shown.append(ident)
            case "odd cost":
                cost = draw(costs)
            case _:
                count = draw(counts)
        return {"cost": cost, "count": count}

    good_countries, good_apps = ids(), ids()
    stocked: list[int] = []
    flat_good = {str(a): offer(stocked, a) for a in good_apps if draw(st.booleans())}
    pairs: list[tuple[int, int]] = []
    nested_good: dict[str, dict[str, Any]] = {}
    for c in good_countries:
        for a in good_apps:
            shown: list[int] = []
            nested_good.setdefault(str(c), {})[str(a)] = offer(shown, a)
            pairs.extend((c, a) for a in shown)
    nested = draw(st.dictionaries(keys, st.one_of(st.dictionaries(keys, price), price)))
    for group, good in nested_good.items():
        nested[group] = draw(st.dictionaries(keys, price, max_size=3)) | good
    bodies = {
        "countries": mixed(draw, named, {str(c): entry(c) for c in good_countries}),
        "applications": mixed(draw, named, {str(a): entry(a) for a in good_apps}),
        "flat": draw(st.dictionaries(keys, price, max_size=6)) | flat_good,
        "nested": nested,
    }
    expected = {
        "countries": {AppsCb(country=c, page=0).pack() for c in good_countries},
        "apps": {PriceCb(country=c, app=a).pack() for c in good_countries for a in stocked},
        "all apps": {CheapestCb(app=a, page=0).pack() for a in good_apps},
        "cheapest": {PriceCb(country=c, app=a).pack() for c, a in pairs},
    }
    return Hostile(bodies, expected)


def canned(bodies: dict[str, Any]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        if endpoint == "get-prices":
            endpoint = "flat" if "country_id" in request.url.params else "nested"
        return httpx.Response(200, content=json.dumps(bodies[endpoint]).encode())

    return httpx.MockTransport(answer)


class Drawn:
    """Every page of every picker the catalog yields, as a person could flip to it, by the
    buttons' callback data."""

    def __init__(self) -> None:
        self.data: set[str] = set()

    def listing(self, listing: Listing | None) -> set[str]:
        seen: set[str] = set()
        if listing is None:
            return seen
        for number in range(len(listing.rows.items) // listing.per_page + 1):
            seen |= self.keyboard(listing.page(number)[1])
        for query in ("a", "1", "us", "Рос", "中"):
            self.keyboard(listing.found(query, listing.matches(query))[1])
        return seen

    def keyboard(self, markup: InlineKeyboardMarkup) -> set[str]:
        seen = set()
        for row in markup.inline_keyboard:
            for button in row:
                data = button.callback_data or ""
                assert 0 < len(data.encode()) <= MAX_CALLBACK_BYTES, data
                seen.add(data)
        return seen


async def draw_everything(catalog: Hostile, db: Database, i18n: I18n, markup: bool) -> None:
    expected = catalog.expected
    async with httpx.AsyncClient(transport=canned(catalog.bodies)) as http:
        client = SmsManClient(
            http, "https://api.example/control", SecretStr("tok"), RateLimiter(1e6), attempts=1
        )
        sells = (lambda cost: cost * Decimal("1.3") + 5) if markup else (lambda cost: cost)
        cache = Catalog(client, FakeClock(), "RUB", person_price=sells)
        popular = Popularity(db, FakeClock(), curated=None)
        for locale in LOCALES:
            with i18n.context(), i18n.use_locale(locale):
                drawn = Drawn()
                seen: dict[str, set[str]] = {key: set() for key in expected}
                # An answer with nothing usable in it is SMS-man not answering (a screen of
                # its own); entries we cannot show around good ones are never an error.
                with nothing_usable(expected["countries"]):
                    seen["countries"] = drawn.listing(
                        await countries(cache, popular, db, PERSON, locale)
                    )
                    for country in await cache.countries():
                        with nothing_usable(expected["apps"]):
                            listing = await apps(cache, popular, db, PERSON, locale, country)
                            seen["apps"] |= drawn.listing(listing)
                with nothing_usable(expected["all apps"]):
                    seen["all apps"] = drawn.listing(await all_apps(cache, locale))
                    for app in await cache.applications():
                        with nothing_usable(expected["cheapest"]):
                            seen["cheapest"] |= drawn.listing(await cheapest(cache, locale, app))
                for key, buttons in expected.items():
                    assert buttons <= seen[key], (key, buttons - seen[key])


@contextlib.contextmanager
def nothing_usable(expected: set[str]) -> Iterator[None]:
    """A provider error is the right answer only when no good entry was there to show."""
    try:
        yield
    except SmsManError:
        if expected:
            raise


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def database(runner: asyncio.Runner) -> Iterator[Database]:
    db = runner.run(Database.open(":memory:"))
    yield db
    runner.run(db.close())


@pytest.fixture(scope="module")
def i18n(locales: Path) -> I18n:
    return I18n(path=locales, default_locale="en", domain="messages")


@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(catalog=hostile_catalogs(), markup=st.booleans())
def test_every_picker_page_draws_from_a_hostile_catalog(
    runner: asyncio.Runner, database: Database, i18n: I18n, catalog: Hostile, markup: bool
) -> None:
    runner.run(draw_everything(catalog, database, i18n, markup))


def test_ids_are_bounded_as_our_buttons_are() -> None:
    assert parsing.ID_LIMIT == INT_LIMIT


async def test_entries_we_cannot_show_are_dropped_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = {"id": "5", "title": "USA", "code": "us"}
    hostile: dict[str, Any] = {
        "countries": {
            "5": good,
            "0": {"id": "0", "title": "Zero"},
            "-3": {"id": -3, "title": "Negative"},
            "big": {"id": str(2**63), "title": "Too big"},
            "long": {"id": "1" * 25, "title": "25 digits"},
            "sup": {"id": "²", "title": "Superscript"},
            "list": [1, 2],
        },
        "applications": [{"id": 3, "title": "Telegram"}, {"id": 0, "title": "Zero"}],
        "flat": {
            "3": {"cost": "12.50", "count": 4},
            "4": {"cost": "1e30", "count": 4},
            "6": {"cost": "²", "count": 4},
            "7": {"cost": "NaN", "count": 4},
            "8": {"cost": "-1", "count": 4},
            "9": {"cost": "", "count": 4},
            "10": {"cost": "1.00", "count": "²"},
        },
        "nested": {"5": {"3": {"cost": "12.50", "count": 4}}, "0": {"3": {"cost": "1"}}},
    }
    async with httpx.AsyncClient(transport=canned(hostile)) as http:
        client = SmsManClient(http, "https://x/control", SecretStr("t"), RateLimiter(1e6))
        with caplog.at_level(logging.WARNING, logger="bot.smsman.parsing"):
            assert [c.id for c in await client.countries()] == [5]
            assert [p.application_id for p in await client.get_prices(country_id=5)] == [3]
    warned = [r.getMessage() for r in caplog.records if r.name == "bot.smsman.parsing"]
    assert len(warned) == 2, "one line per answer, not one per entry"
    assert "dropped 6 of 7" in warned[0]
    assert "dropped 6 of 7" in warned[1]
