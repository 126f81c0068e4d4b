"""End to end, on the bot's clock: typed searches and messages to the owner, each limited per
person, refused with when it may be done again, and allowed exactly then."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.person_rates import PAY_SUPPORT, PAY_SUPPORT_WINDOW, SEARCH_BURST, SEARCHES_PER_SECOND
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from tests.conftest import ADMIN_ID, ALLOWED_ID, FakeClock, RunBot, make_settings
from tests.flows import main_menu

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
