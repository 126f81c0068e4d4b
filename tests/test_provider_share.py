"""SMS-man's rate shared through the whole bot, in virtual time: one person's flood of taps on
price lists nobody has cached costs that person, not the code looks nor anyone else's Buy."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

from benchmarks.catalog import large_catalog
from bot.smsman.ratelimit import BACKGROUND_STRIDE, INTERACTIVE_STRIDE
from emulators.smsman import Call
from emulators.telegram import ChatMessage, SimUser
from keyboards.callbacks import AppsCb, PriceCb
from tests.conftest import ADMIN_ID, ALLOWED_ID
from tests.flows import main_menu, wait_for_button
from tests.sim.world import World

FLOODER = 3000
RATE = 5.0
ORDERS = 15
TAPS = 100
# Of SMS-man's turns while both wait, the people's share; a second person's call waits for at
# most one of the flooder's turns, then gets its own.
PEOPLES_SHARE = BACKGROUND_STRIDE / (BACKGROUND_STRIDE + INTERACTIVE_STRIDE)
TURN_S = 1 / (RATE * PEOPLES_SHARE)


async def price_screen(user: SimUser, country: int, app: int) -> ChatMessage:
    await main_menu(user)
    await user.tap_data(PriceCb(country=country, app=app).pack())
    return await wait_for_button(user, "Buy for")


async def buy(user: SimUser, country: int, app: int) -> None:
    await price_screen(user, country, app)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")


def arrivals(world: World, endpoint: str, since: float, until: float) -> list[Call]:
    return [c for c in world.smsman.calls if c.endpoint == endpoint and since <= c.arrived <= until]


def test_a_hundred_uncached_taps_cost_the_one_who_tapped(tmp_path: Path, locales: Path) -> None:
    world = World(
        tmp_path,
        locales,
        # 200 countries (the USA among them), each with its own uncached price list.
        catalog=large_catalog(200, 4),
        smsman_max_rps=RATE,
        poll_interval_seconds=3.0,
        max_active_orders=ORDERS + 1,
        allowed_user_ids=[ALLOWED_ID, FLOODER],
    )
    try:
        world.smsman.set_balance(Decimal(100_000))
        world.open()
        countries = world.smsman.state.catalog.countries
        uk = next(c.id for c in countries.values() if c.iso == "gb")
        app = next(iter(world.smsman.state.catalog.applications))
        # Orders open: looks at them need the whole rate (15 orders every 3 s).
        owner = world.telegram.user(ADMIN_ID)
        for _ in range(ORDERS):
            world.run(buy(owner, uk, app))
        buyer = world.telegram.user(ALLOWED_ID)
        world.run(price_screen(buyer, uk, app))
        flooder = world.telegram.user(FLOODER)
        world.run(main_menu(flooder))
        others = [c for c in countries if c != uk][:TAPS]

        async def flood() -> None:
            for country in others:
                await flooder.tap_data(AppsCb(country=country, page=0).pack())

        started = world.loop.time()
        world.run(flood())
        world.advance(10)
        tapped = world.loop.time()
        world.run(buyer.tap("Buy for"))
        world.run(buyer.wait_for_text("Waiting for the SMS", timeout=60))
        [bought] = arrivals(world, "get-number", tapped, world.loop.time())
        world.advance(60)
        ended = world.loop.time()

        waited = bought.arrived - tapped
        assert waited <= 2 * TURN_S, f"the Buy waited {waited:.1f} s behind someone's flood"
        prices = arrivals(world, "get-prices", started, ended)
        looks = arrivals(world, "get-sms", started, ended)
        assert len(prices) < TAPS, "the flood is still going: it got the people's share only"
        assert len(looks) >= 0.8 * (len(looks) + len(prices)), (len(looks), len(prices))
        gaps = [b.arrived - a.arrived for a, b in itertools.pairwise(looks)]
        assert max(gaps) <= 1.0, "the looks never stopped"
        assert world.smsman.rate_refusals == 0
    finally:
        world.close()
