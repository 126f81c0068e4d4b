"""Fault injection: whatever SMS-man or Telegram does, people get a clear answer and orders end."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from bot.catalog.cache import RETRY_AFTER_FAILURE
from bot.factory import Application
from bot.orders.lifecycle import OPEN_STATUSES, OrderStatus
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from tests.conftest import ALLOWED_ID, SMSMAN_MAX_RPS, FakeClock, RunBot, make_settings
from tests.flows import buy_number, labels, price_screen

USA, TELEGRAM = 5, 3
PROVIDER_FAULTS = [
    "timeout",
    "http_500",
    "http_502",
    "malformed",
    "html",
    "drop",
    "error_code",
    "too_many_requests",
]
# Faults after which SMS-man certainly did nothing.
NOT_DONE = ("error_code", "too_many_requests")


@pytest.fixture(autouse=True)
def stock(smsman: SmsManEmulator) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))


def inject(smsman: SmsManEmulator, endpoint: str, kind: str, times: int = 1) -> None:
    smsman.fail_next(
        endpoint, kind, times=times, seconds=5, code="brand_new_error", msg={"x": "New!"}
    )


@pytest.mark.parametrize("kind", [*PROVIDER_FAULTS, "lost_response"])
async def test_purchase_faults_end_in_a_clear_message_and_a_terminal_order(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application, kind: str
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    inject(smsman, "get-number", kind)
    await (await user.tap("Buy for")).answered()
    # Only an error answer says nothing was sold; after anything else the request may have
    # been carried out, and the person is told so rather than "nothing was charged".
    refused = kind in NOT_DONE
    text = "could not complete the purchase" if refused else "did not confirm this purchase"
    failed = await user.wait_for_text(text)
    # A purchase that may have sold is bought again only through the price screen.
    again = "Try again" if refused else "Buy again"
    assert any(again in label for label in labels(failed))
    order = await bot_app.db.get_order(1)
    assert order is not None
    assert order.status is (OrderStatus.FAILED if refused else OrderStatus.LOST)
    assert len([c for c in smsman.calls if c.endpoint == "get-number"]) == 1, "never retried"
    await user.send("/start")
    await user.wait_for_text("Hi,")


@pytest.mark.parametrize("kind", PROVIDER_FAULTS)
async def test_polling_survives_provider_faults(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application, kind: str
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy_number(user)
    inject(smsman, "get-sms", kind, times=4)
    smsman.deliver_sms(smsman.requests[0].request_id, "640640")
    await user.wait_for_text("code: 640640", timeout=15)
    assert len([m for m in user.bot_messages if "code: 640640" in m.text]) == 1


@pytest.mark.parametrize("kind", PROVIDER_FAULTS)
async def test_browsing_faults_offer_a_retry(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    bot_app: Application,
    clock: FakeClock,
    kind: str,
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    # Transient faults are retried by the client, so they must outlast its attempts.
    inject(smsman, "countries", kind, times=1 if kind == "error_code" else 3)
    await (await user.tap("Buy a number")).answered()
    await user.wait_for_text("not answering", timeout=20)
    asked = len(smsman.calls)
    # A failure is remembered a few seconds: a tap meanwhile is answered without asking.
    await (await user.tap("Try again")).answered()
    assert len(smsman.calls) == asked
    clock.advance(RETRY_AFTER_FAILURE)
    await (await user.tap("Try again")).answered()
    await user.wait_for_text("Choose a country")


async def test_provider_unreachable(
    tmp_path: Path, telegram: TelegramEmulator, smsman: SmsManEmulator, run_bot: RunBot
) -> None:
    settings = make_settings(tmp_path, smsman, telegram, smsman_api_url="http://127.0.0.1:9/x")
    async with run_bot(settings):
        user = telegram.user(ALLOWED_ID, language_code="en")
        await user.send("/start")
        await user.wait_for_text("Hi,")
        await (await user.tap("Buy a number")).answered()
        await user.wait_for_text("not answering")


async def test_lost_purchase_expires_at_the_provider_and_the_books_balance(
    tmp_path: Path, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    emulator_clock = FakeClock(0.0)
    async with SmsManEmulator(
        token="test-token", lifetime=600, clock=emulator_clock, max_rps=SMSMAN_MAX_RPS
    ) as smsman:
        smsman.set_stock(USA, TELEGRAM, count=5, cost=Decimal("12.50"))
        async with run_bot(make_settings(tmp_path, smsman, telegram)) as app:
            user = telegram.user(ALLOWED_ID, language_code="en")
            await price_screen(user)
            smsman.fail_next("get-number", "lost_response")
            await (await user.tap("Buy for")).answered()
            await user.wait_for_text("You may have been charged")
            assert smsman.spent == Decimal("12.50"), "charged although we never heard"
            emulator_clock.advance(601)
            assert smsman.spent == Decimal(0), "an unused request is refunded when it expires"
            assert not [o for o in await app.db.all_orders() if o.status in OPEN_STATUSES]


@pytest.mark.parametrize(
    ("method", "code", "description"),
    [
        ("editMessageText", 429, "Too Many Requests: retry after 1"),
        ("answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired"),
    ],
)
async def test_telegram_faults_on_menus(
    telegram: TelegramEmulator,
    bot_app: Application,
    method: str,
    code: int,
    description: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    telegram.fail_next(method, code, description, retry_after=1 if code == 429 else None)
    tap = await user.tap("Help")
    await user.wait_for_text("How it works", timeout=10)
    if method != "answerCallbackQuery":
        await tap.answered()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_telegram_server_error_on_a_reply_is_survived(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    telegram.fail_next("sendMessage", 502, "Bad Gateway")
    await user.send("/start")
    await user.wait_for_text("something went wrong")
    await user.send("/start")
    await user.wait_for_text("Hi,")
