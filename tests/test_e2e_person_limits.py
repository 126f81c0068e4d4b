"""Per-person limits end to end, on the bot's clock: refused saying when, allowed exactly then."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from benchmarks.common import seed_orders
from bot.orders.cancels import CANCEL_WINDOW, CANCELS, CancelLimit
from bot.orders.lifecycle import OrderStatus
from bot.person_rates import PAY_SUPPORT, PAY_SUPPORT_WINDOW, SEARCH_BURST, SEARCHES_PER_SECOND
from bot.storage.database import Database
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from tests.conftest import ADMIN_ID, ALLOWED_ID, FakeClock, RunBot, make_settings
from tests.flows import buy_number, main_menu

USA, TELEGRAM = 5, 3
# An admin who blocked the bot: Telegram refuses every message to them.
GONE_ADMIN = 1001
TOO_FAST = "Typing faster than I can search"


@pytest.fixture(autouse=True)
def stock(smsman: SmsManEmulator) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))


async def test_typed_searches_two_a_second_after_a_burst(
    telegram: TelegramEmulator, clock: FakeClock, bot_app: object
) -> None:
    user = telegram.user(ALLOWED_ID)
    await main_menu(user)
    await (await user.tap("Buy a number")).answered()
    await user.wait_for_text("Choose a country")
    for _ in range(SEARCH_BURST):
        await user.send("united")  # all at one moment of the bot's clock
        await user.wait_for_text("2 matches")
    await user.send("usa")
    await user.wait_for_text(TOO_FAST)
    clock.advance(0.25)
    await user.send("usa")  # still too soon, and not told again
    clock.advance(1 / SEARCHES_PER_SECOND - 0.25)
    await user.send("usa")
    await user.wait_for_text("United States: choose an app")

    assert sum(TOO_FAST in m.text for m in user.bot_messages) == 1
    assert sum("choose an app" in m.text for m in user.bot_messages) == 1


async def test_payment_support_three_an_hour_reaching_every_admin_who_can_be_reached(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    clock: FakeClock,
    run_bot: RunBot,
) -> None:
    # The unreachable admin first: before, the first refusal kept the others from being told.
    settings = make_settings(
        tmp_path,
        smsman,
        telegram,
        sales_mode="wallet",
        star_price="1.30",
        admin_ids=[GONE_ADMIN, ADMIN_ID],
    )
    telegram.user(GONE_ADMIN)
    telegram.block(GONE_ADMIN)
    admin, user = telegram.user(ADMIN_ID), telegram.user(ALLOWED_ID)
    async with run_bot(settings):
        for n in range(PAY_SUPPORT):
            await user.send(f"/paysupport where is my top-up {n}")
            await user.wait_for_text("Sent to the bot's owner")
            await admin.wait_for_text(f"where is my top-up {n}")
        clock.advance(PAY_SUPPORT_WINDOW - 61)
        await user.send("/paysupport once more")
        refused = await user.wait_for_text("Please try again in")
        clock.advance(61)
        await user.send("/paysupport once more, an hour later")
        await admin.wait_for_text("once more, an hour later")

    assert "3 times in the last hour" in refused.text
    assert "in 2 min" in refused.text, "61 s, rounded up to whole minutes"
    assert not any(m.text.endswith("\nonce more") for m in admin.bot_messages)


async def given_back(path: Path, at: float) -> None:
    """Every open order given back (cancelled, refunded) at `at`."""
    db = await Database.open(path)
    try:
        for order in [o for o in await db.all_orders() if o.status is OrderStatus.ACTIVE]:
            await db.update_order(
                order.id, expect=(OrderStatus.ACTIVE,), now=at, status=OrderStatus.CANCELLED
            )
    finally:
        await db.close()


async def test_the_cancel_limit_frees_up_exactly_an_hour_after_the_oldest_counted(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, clock: FakeClock
) -> None:
    path = tmp_path / "bot.sqlite3"
    settings = make_settings(tmp_path, smsman, telegram)
    start = clock()
    await seed_orders(path, smsman, CANCELS - 1, [ALLOWED_ID], now=start)
    await given_back(path, start)
    await seed_orders(path, smsman, 1, [ALLOWED_ID], now=start + 10)
    await given_back(path, start + 10)
    db = await Database.open(path)
    try:
        limit = CancelLimit(db, settings, clock)
        refusal = await limit.refusal(ALLOWED_ID)
        assert refusal is not None
        assert refusal.resets_at == start + CANCEL_WINDOW
        assert await limit.refusal(ADMIN_ID) is None, "a person's own"
        clock.advance(CANCEL_WINDOW - 0.5)
        assert await limit.refusal(ALLOWED_ID) is not None
        clock.advance(0.5)
        assert await limit.refusal(ALLOWED_ID) is None, "nineteen in the window now"
    finally:
        await db.close()


async def test_a_cancel_over_the_limit_is_refused_without_asking_smsman(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    clock: FakeClock,
    run_bot: RunBot,
) -> None:
    path = tmp_path / "bot.sqlite3"
    await seed_orders(path, smsman, CANCELS, [ALLOWED_ID], now=clock() - CANCEL_WINDOW + 30)
    await given_back(path, clock() - CANCEL_WINDOW + 30)
    smsman.set_balance(Decimal(1000))  # seeding spent it all
    user = telegram.user(ALLOWED_ID)
    async with run_bot(make_settings(tmp_path, smsman, telegram)):
        card = await buy_number(user)
        await (await user.tap("Cancel", message=card)).answered()
        # The card, redrawn with why; read now, before the next tap redraws it again.
        refused = (await user.wait_for_text("You have given back 20 numbers")).text
        clock.advance(30)
        await (await user.tap("Cancel", message=card)).answered()
        await user.wait_for_text("Cancelled")

    assert "released at its deadline anyway" in refused
    rejects = [c for c in smsman.calls if c.params.get("status") == "reject"]
    assert len(rejects) == 1, "only the cancel after the hour reached SMS-man"
    with sqlite3.connect(path) as raw:
        statuses = [row[0] for row in raw.execute("SELECT status FROM orders")]
    assert statuses.count("cancelled") == CANCELS + 1
