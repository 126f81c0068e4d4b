"""End to end: a retry that bought three numbers, codes lost at the deadline, huge button ids."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from bot.orders.lifecycle import OrderStatus
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from keyboards.callbacks import OrderAction, OrderCb
from tests.conftest import ALLOWED_ID, FakeClock, RunBot, make_settings
from tests.flows import buy_number, labels, price_screen, wait_for_button

USA, TELEGRAM = 5, 3


@pytest.fixture(autouse=True)
def stock(smsman: SmsManEmulator) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))


def get_numbers(smsman: SmsManEmulator) -> int:
    return len([c for c in smsman.calls if c.endpoint == "get-number"])


async def test_a_retry_button_buys_once_however_often_it_is_tapped(
    telegram: TelegramEmulator, smsman: SmsManEmulator, run_bot: RunBot, tmp_path: Path
) -> None:
    async with run_bot(make_settings(tmp_path, smsman, telegram)):
        user = telegram.user(ALLOWED_ID, language_code="en")
        await price_screen(user)
        smsman.fail_next("get-number", "error_code", code="no_such_thing")
        await (await user.tap("Buy for")).answered()
        failed = await user.wait_for_text("could not complete the purchase")
        smsman.set_latency("get-number", 0.3)
        taps = [await user.tap("Try again", message=failed) for _ in range(2)]
        await asyncio.gather(*(tap.answered() for tap in taps))
        await user.wait_for_text("Waiting for the SMS")
        await asyncio.sleep(1)
        # The same button a second later: it shows the order the retry bought.
        await (await user.tap_data(taps[0].data, message=failed)).answered()
        await user.wait_for_text("Waiting for the SMS", fresh=False)
        assert get_numbers(smsman) == 2, "the failed purchase and exactly one retry"
        assert len(smsman.requests) == 1


async def test_a_purchase_that_may_have_sold_is_not_tried_again_by_a_tap(
    telegram: TelegramEmulator, smsman: SmsManEmulator, run_bot: RunBot, tmp_path: Path
) -> None:
    """After a 502 the number may be sold already: no Try again, but Buy again through the
    price screen, a deliberate new purchase; an old Try again of that order buys nothing."""
    async with run_bot(make_settings(tmp_path, smsman, telegram)):
        user = telegram.user(ALLOWED_ID, language_code="en")
        await price_screen(user)
        smsman.fail_next("get-number", "http_502")
        await (await user.tap("Buy for")).answered()
        lost = await user.wait_for_text("did not confirm this purchase")
        assert "Try again" not in " ".join(labels(lost))
        stale = OrderCb(order=1, action=OrderAction.RETRY).pack()
        taps = [await user.tap_data(stale, message=lost) for _ in range(3)]
        await asyncio.gather(*(tap.answered() for tap in taps))
        assert get_numbers(smsman) == 1
        await (await user.tap("Buy again", message=lost)).answered()
        await wait_for_button(user, "Buy for")
        await (await user.tap("Buy for")).answered()
        await user.wait_for_text("Waiting for the SMS")
        assert get_numbers(smsman) == 2


async def test_codes_that_come_just_before_the_deadline_are_delivered(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    run_bot: RunBot,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    settings = make_settings(
        tmp_path, smsman, telegram, order_timeout_seconds=5, max_active_orders=4
    )
    async with run_bot(settings) as app:
        user = telegram.user(ALLOWED_ID, language_code="en")
        for _ in range(4):
            await buy_number(user)
        balance = smsman.balance
        clock.advance(4.85)
        # Each SMS reaches the provider 0.15 s before its order's deadline, and the next look
        # is already past it: the deadline's last look must find the code, not reject.
        for number, request in enumerate(smsman.requests):
            smsman.deliver_sms(request.request_id, f"70000{number}")
        clock.advance(0.15)
        for number in range(4):
            await user.wait_for_text(f"code: 70000{number} for +1", timeout=10)
        await user.wait_for(
            lambda u: len([m for m in u.bot_messages if "✔️ Done." in m.text]) == 4,
            timeout=10,
            waiting_for="four closed cards",
        )
        assert all(o.status is OrderStatus.CLOSED for o in await app.db.all_orders())
        statuses = [c.params["status"] for c in smsman.calls if c.endpoint == "set-status"]
        assert statuses == ["close"] * 4, "a number with a code is closed, never rejected"
        assert smsman.balance == balance, "the provider kept the money and nothing says otherwise"
        for number in range(4):
            assert len([m for m in user.bot_messages if f"code: 70000{number}" in m.text]) == 1
        assert not [m for m in user.bot_messages if "money returned" in m.text]


async def test_a_button_with_a_huge_id_is_a_stale_button(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    run_bot: RunBot,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    async with run_bot(make_settings(tmp_path, smsman, telegram)):
        user = telegram.user(ALLOWED_ID, language_code="en")
        await user.send("/start")
        menu = await user.wait_for_text("Hi,")
        for data in ("b:9999999999999999999999999", "o:99999999999999999999:1", "c:-1"):
            answer = await (await user.tap_data(data, message=menu)).answered()
            assert answer.text == "This button is no longer active."
        assert smsman.calls == []
        assert not caplog.records, caplog.text
        assert "Buy a number" in " ".join(labels(user.bot_messages[-1]))
