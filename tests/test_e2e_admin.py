"""End to end: the owner's controls — access, limits, figures and the provider float."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.factory import Application
from bot.orders.lifecycle import OrderStatus
from emulators.smsman import LedgerKind, SmsManEmulator
from emulators.telegram import ChatMessage, SimUser, TelegramEmulator
from tests.conftest import (
    ADMIN_ID,
    ALLOWED_ID,
    FakeClock,
    RunBot,
    every_tap_answered,
    make_settings,
)
from tests.flows import buy_number, labels, price_screen, wait_for_button

USA, RUSSIA, TELEGRAM = 5, 1, 3
STRANGER = 31337


@pytest.fixture(autouse=True)
def stock(smsman: SmsManEmulator) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    smsman.set_stock(RUSSIA, TELEGRAM, count=40, cost=Decimal("9.90"))


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def app(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    run_bot: RunBot,
    overrides: dict[str, Any],
) -> AsyncIterator[Application]:
    async with run_bot(make_settings(tmp_path, smsman, telegram, **overrides)) as running:
        yield running
        await every_tap_answered(telegram)


async def russia_price_screen(user: SimUser) -> ChatMessage:
    await user.send("/start")
    await user.wait_for_text("Hi,")
    await (await user.tap("Buy a number")).answered()
    await user.wait_for_text("Choose a country")
    await user.send("russia")
    await user.wait_for_text("Russia: choose an app")
    await user.send("telegram")
    return await wait_for_button(user, "Buy for 9.90")


def get_numbers(smsman: SmsManEmulator) -> int:
    return len([c for c in smsman.calls if c.endpoint == "get-number"])


@pytest.mark.parametrize("overrides", [{"daily_spend_limit": Decimal("20")}])
async def test_daily_limit_refuses_then_resets_at_midnight(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy_number(user)
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    refused = await user.wait_for_text("daily limit of 20.00 ₽")
    assert "resets at 00:00 UTC" in refused.text
    assert get_numbers(smsman) == 1
    clock.advance(24 * 3600)
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")
    assert get_numbers(smsman) == 2


@pytest.mark.parametrize("overrides", [{"daily_spend_limit": Decimal("20")}])
async def test_refunds_give_the_daily_allowance_back(
    telegram: TelegramEmulator, smsman: SmsManEmulator, app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    card = await buy_number(user)
    await (await user.tap("Cancel", message=card)).answered()
    await user.wait_for_text("money returned")
    await buy_number(user)
    assert get_numbers(smsman) == 2


@pytest.mark.parametrize("overrides", [{"daily_spend_limit": Decimal("1")}])
async def test_admins_have_no_daily_limit(
    telegram: TelegramEmulator, smsman: SmsManEmulator, app: Application
) -> None:
    admin = telegram.user(ADMIN_ID, language_code="en")
    await buy_number(admin)
    assert get_numbers(smsman) == 1


@pytest.mark.parametrize("overrides", [{"max_active_orders": 1}])
async def test_active_orders_limit_and_concurrent_taps(
    telegram: TelegramEmulator, smsman: SmsManEmulator, app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    usa = await price_screen(user)
    russia = await russia_price_screen(user)
    smsman.set_latency("get-number", 0.3)
    taps = [
        await user.tap("Buy for", message=usa),
        await user.tap("Buy for", message=russia),
    ]
    await asyncio.gather(*(tap.answered() for tap in taps))
    refused = await user.wait_for_text("active number at a time")
    await user.wait_for_text("Waiting for the SMS")
    assert get_numbers(smsman) == 1, "two taps at once cannot slip under the limit"
    assert refused.message_id in {usa.message_id, russia.message_id}


@pytest.mark.parametrize("overrides", [{"max_price": Decimal("10")}])
async def test_max_price(
    telegram: TelegramEmulator, smsman: SmsManEmulator, app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("more than the most one purchase may cost here (10.00 ₽)")
    assert get_numbers(smsman) == 0
    await russia_price_screen(user)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")


async def test_grant_and_revoke_access(
    telegram: TelegramEmulator, smsman: SmsManEmulator, app: Application
) -> None:
    admin = telegram.user(ADMIN_ID, language_code="en")
    stranger = telegram.user(STRANGER, first_name="Eve", language_code="en")
    await stranger.send("/start")
    await stranger.wait_for_text("Hi, Eve")
    await (await stranger.tap("Buy a number")).answered()
    await stranger.wait_for_text("not open to you")

    await admin.send(f"/allow {STRANGER}")
    await admin.wait_for_text(f"User {STRANGER} may buy numbers now")
    await stranger.wait_for_text("You can buy numbers now")
    await stranger.send("/start")
    await stranger.wait_for_text("Hi, Eve")
    await (await stranger.tap("Buy a number")).answered()
    await stranger.wait_for_text("Choose a country")

    await admin.send(f"/deny {STRANGER}")
    await admin.wait_for_text("may no longer buy")
    await (await stranger.tap("›")).answered()
    await stranger.wait_for_text("not open to you")

    await admin.send(f"/deny {ALLOWED_ID}")
    await admin.wait_for_text("may no longer buy")
    allowed = telegram.user(ALLOWED_ID, language_code="en")
    await allowed.send("/start")
    await allowed.wait_for_text("Hi,")
    await (await allowed.tap("Buy a number")).answered()
    await allowed.wait_for_text("not open to you")

    await admin.send(f"/deny {ADMIN_ID}")
    await admin.wait_for_text("Admins always may buy")
    await admin.send("/allow nobody")
    await admin.wait_for_text("Usage: /allow")
    log = await app.db.audit_log(10)
    assert [(actor, action, target) for actor, action, target, _at in log] == [
        (ADMIN_ID, "deny", ALLOWED_ID),
        (ADMIN_ID, "deny", STRANGER),
        (ADMIN_ID, "allow", STRANGER),
    ]
    assert get_numbers(smsman) == 0


async def test_admin_commands_are_for_admins_only(
    telegram: TelegramEmulator, app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send(f"/allow {STRANGER}")
    await user.wait_for_text("Use the menu")
    await user.send("/stats")
    await user.wait_for_text("Use the menu")
    assert await app.db.access_override(STRANGER) is None


@pytest.mark.parametrize("overrides", [{"open_to_all": True}])
async def test_open_to_all(telegram: TelegramEmulator, app: Application) -> None:
    stranger = telegram.user(STRANGER, language_code="en")
    await buy_number(stranger)


async def test_stats_match_the_providers_ledger(
    telegram: TelegramEmulator, smsman: SmsManEmulator, app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    admin = telegram.user(ADMIN_ID, language_code="en")
    first = await buy_number(user)
    await (await user.tap("Cancel", message=first)).answered()
    await user.wait_for_text("money returned")
    await buy_number(user)
    smsman.deliver_sms(smsman.requests[1].request_id, "123456")
    await user.wait_for_text("code: 123456")
    await buy_number(admin)

    charged = sum((e.amount for e in smsman.ledger if e.kind is LedgerKind.CHARGE), Decimal(0))
    refunds = sum((e.amount for e in smsman.ledger if e.kind is LedgerKind.REFUND), Decimal(0))
    assert (charged, refunds) == (Decimal("37.50"), Decimal("12.50"))
    await admin.send("/stats")
    stats = await admin.wait_for_text("Statistics")
    assert f"SMS-man balance: {smsman.balance:.2f} ₽" in stats.text
    assert f"Total: 3 orders · codes 1 (33%) · spent {smsman.spent:.2f} ₽" in stats.text
    assert f"refunded {refunds:.2f} ₽" in stats.text
    assert f"{ALLOWED_ID}: 2 orders · codes 1 (50%) · spent 12.50 ₽ · refunded 12.50 ₽" in (
        stats.text
    )
    assert f"{ADMIN_ID}: 1 order · codes 0 (0%) · spent 12.50 ₽ · refunded 0.00 ₽ · active 1" in (
        stats.text
    )


@pytest.mark.parametrize("overrides", [{"low_balance_alert": Decimal("990")}])
async def test_low_float_alert_is_sent_once(
    telegram: TelegramEmulator, smsman: SmsManEmulator, app: Application
) -> None:
    admin = telegram.user(ADMIN_ID, language_code="en")
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy_number(user)
    await admin.wait_for_text("balance is down to 987.50 ₽")
    await buy_number(user)
    await buy_number(user)
    await smsman.wait_for_calls("get-balance", 3)
    assert len([m for m in admin.bot_messages if "balance is down to" in m.text]) == 1


async def test_buying_pauses_on_an_empty_balance_until_it_is_back(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, app: Application
) -> None:
    admin = telegram.user(ADMIN_ID, language_code="en")
    user = telegram.user(ALLOWED_ID, language_code="en")
    smsman.set_balance(Decimal("1"))
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("temporarily unavailable")
    await admin.wait_for_text("purchases are paused")
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("temporarily unavailable")
    assert get_numbers(smsman) == 1, "paused: no purchase is even attempted"
    smsman.set_balance(Decimal("1000"))
    clock.advance(31)
    await buy_number(user)
    assert get_numbers(smsman) == 2


async def test_orders_view_lists_stuck_orders_and_retries_them(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, app: Application
) -> None:
    admin = telegram.user(ADMIN_ID, language_code="en")
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy_number(user)
    smsman.fail_next("set-status", "http_500", times=10_000)
    clock.advance(app.settings.order_timeout_seconds + 300)
    await smsman.wait_for_calls("set-status", 3)
    await admin.send("/orders")
    listing = await admin.wait_for_text("Orders that need a look")
    assert "#1" in listing.text
    assert "stuck since its deadline" in listing.text
    smsman.clear_faults()
    await (await admin.tap("Retry order #1", message=listing)).answered()
    await admin.wait_for_text("Order #1 is now: expired, refunded")
    order = await app.db.get_order(1)
    assert order is not None
    assert order.status is OrderStatus.EXPIRED
    await admin.send("/orders")
    await admin.wait_for_text("No stuck or failed orders")
    assert labels(listing)


async def test_orders_view_shows_provider_and_telegram_reasons_as_text(
    telegram: TelegramEmulator, smsman: SmsManEmulator, app: Application
) -> None:
    admin = telegram.user(ADMIN_ID, language_code="en")
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    smsman.fail_next("get-number", "error_code", code="<b>odd & new</b>", msg="?")
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("could not complete the purchase")
    card = await buy_number(user)
    telegram.fail_next("sendMessage", 400, "Bad Request: <can't> parse")
    smsman.deliver_sms(smsman.requests[0].request_id, "515151")
    await user.wait_for_message(lambda m: m.message_id == card.message_id and "515151" in m.text)
    await admin.send("/orders")
    listing = await admin.wait_for_text("Orders that need a look")
    assert "failed: <b>odd & new</b>" in listing.text
    assert "code not delivered: Bad Request: <can't> parse" in listing.text
    assert "&lt;b&gt;odd &amp; new&lt;/b&gt;" in (listing.html or "")
    assert not [m for m in user.bot_messages if "code: 515151" in m.text], "a 400 is not retried"
