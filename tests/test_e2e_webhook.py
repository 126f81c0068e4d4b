"""Webhook mode: what Telegram is told, what a stranger's post gets, a stop, a switch back."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bot.factory import Application
from bot.orders.lifecycle import OrderStatus
from bot.storage.database import Database
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from tests.conftest import ALLOWED_ID, WEBHOOK, RunBot, make_settings
from tests.flows import main_menu, price_screen

USA, TELEGRAM = 5, 3
UPDATE = {
    "update_id": 999,
    "message": {
        "message_id": 1,
        "date": 1_800_000_000,
        "chat": {"id": ALLOWED_ID, "type": "private", "first_name": "Eve"},
        "from": {"id": ALLOWED_ID, "is_bot": False, "first_name": "Eve"},
        "text": "/start",
    },
}


@pytest.fixture(autouse=True)
def stock(smsman: SmsManEmulator) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))


async def webhook_address(app: Application) -> str:
    """The webhook server's URL once it listens and Telegram was told."""
    assert app.webhook is not None
    async with asyncio.timeout(10):
        await app.webhook.ready.wait()
    return f"http://{app.webhook.address}{WEBHOOK['webhook_url'].removeprefix('https://bot.example.com')}"


async def test_telegram_is_told_the_url_the_secret_and_the_update_types(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    async with run_bot(make_settings(tmp_path, smsman, telegram, **WEBHOOK)) as app:
        await main_menu(telegram.user(ALLOWED_ID, language_code="en"))
        (call,) = telegram.calls_of("setWebhook")
        assert call.params["url"] == WEBHOOK["webhook_url"]
        assert call.params["secret_token"] == WEBHOOK["webhook_secret"]
        assert sorted(call.params["allowed_updates"]) == sorted(app.dp.resolve_used_update_types())
        assert call.params.get("drop_pending_updates") in (None, False)
        assert telegram.webhook_url == WEBHOOK["webhook_url"]
        assert telegram.calls_of("getUpdates") == []


@pytest.mark.parametrize("secret", [None, "wrong", WEBHOOK["webhook_secret"] + "x"])
async def test_a_post_without_the_secret_is_401_and_reaches_no_handler(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    run_bot: RunBot,
    secret: str | None,
) -> None:
    async with run_bot(make_settings(tmp_path, smsman, telegram, **WEBHOOK)) as app:
        url = await webhook_address(app)
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with httpx.AsyncClient() as http:
            response = await http.post(url, json=UPDATE, headers=headers)
        assert response.status_code == 401
        # Nothing was handled: no update counted, nothing sent, nobody recorded.
        counted = {"type": "message"}
        assert app.metrics.registry.get_sample_value("smsman_bot_updates_total", counted) is None
        assert telegram.calls_of("sendMessage") == []
        assert await app.db.get_user(ALLOWED_ID) is None
        # Telegram's own post, with the secret, is handled.
        await main_menu(telegram.user(ALLOWED_ID, language_code="en"))
        assert app.metrics.registry.get_sample_value("smsman_bot_updates_total", counted) == 1


async def test_a_stop_finishes_the_purchase_under_way_and_leaves_the_webhook_set(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    settings = make_settings(tmp_path, smsman, telegram, **WEBHOOK)
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(settings) as app:
        await price_screen(user)
        smsman.set_latency("get-number", 0.5)
        buy = await user.tap("Buy for")
        await smsman.wait_for_calls("get-number", 1)
        # SIGTERM's path: the webhook closes while SMS-man is still selling the number.
        await app.stop()
    await buy.answered()
    card = await user.wait_for_text("Waiting for the SMS")
    assert card.message_id == buy.message.message_id
    db = await Database.open(settings.database_path)
    try:
        (order,) = await db.all_orders()
    finally:
        await db.close()
    assert order.status is OrderStatus.ACTIVE
    assert telegram.webhook_url == WEBHOOK["webhook_url"], "Telegram keeps updates for the restart"
    assert telegram.calls_of("deleteWebhook") == []


async def test_back_to_polling_deletes_the_webhook_and_loses_nothing(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(make_settings(tmp_path, smsman, telegram, **WEBHOOK)):
        await main_menu(user)
    # Sent while the bot is down: Telegram tries the webhook, fails, and keeps it.
    await user.send("/start")
    await telegram.wait_until(lambda: any(not a.delivered for a in telegram.webhook_attempts))

    async with run_bot(make_settings(tmp_path, smsman, telegram)):
        await user.wait_for_text("Hi,")
        methods = [c.method for c in telegram.calls]
        first_poll = methods.index("getUpdates")
        assert "deleteWebhook" in methods[:first_poll]
        assert telegram.webhook_url is None
