"""Webhook mode: what Telegram is told, what a stranger's post gets, a stop, a switch back."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import aiohttp
import httpx
import pytest
from aiogram import Bot, Dispatcher

from bot.factory import Application
from bot.ops.webhook import WebhookHandler
from bot.orders.lifecycle import OrderStatus
from bot.storage.database import Database
from emulators.smsman import SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, SECRET_HEADER, TelegramEmulator
from tests.conftest import ALLOWED_ID, MODES, WEBHOOK, RunBot, make_settings
from tests.flows import bot_idle, main_menu, price_screen

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
    return f"http://{app.webhook.address}{app.settings.webhook_path}"


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


@pytest.mark.parametrize(
    "secret", [None, b"wrong", (WEBHOOK["webhook_secret"] + "x").encode(), "sécret".encode()]
)
async def test_a_post_without_the_secret_is_401_and_reaches_no_handler(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    run_bot: RunBot,
    secret: bytes | None,
) -> None:
    async with run_bot(make_settings(tmp_path, smsman, telegram, **WEBHOOK)) as app:
        url = await webhook_address(app)
        headers = {} if secret is None else {b"X-Telegram-Bot-Api-Secret-Token": secret}
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


async def test_a_path_with_any_characters_is_served(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    # The URL keeps it percent-encoded, the proxy passes it so, aiohttp routes it decoded.
    settings = make_settings(
        tmp_path, smsman, telegram, **(WEBHOOK | {"webhook_url": "https://bot.example.com/тг x/"})
    )
    assert settings.webhook_path == "/%D1%82%D0%B3%20x/"
    async with run_bot(settings):
        await main_menu(telegram.user(ALLOWED_ID, language_code="en"))


@pytest.mark.parametrize("mode", MODES)
async def test_a_stop_right_after_the_start_is_not_lost(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot, mode: str
) -> None:
    settings = make_settings(tmp_path, smsman, telegram, **(WEBHOOK if mode == "webhook" else {}))
    async with asyncio.timeout(20), run_bot(settings):
        pass  # stopped before it had polled or listened


async def test_updates_still_running_after_the_grace_are_cancelled() -> None:
    """A stop must end within the service manager's patience: past the grace, the updates
    still being handled are cancelled (their orders are resolved at the next start)."""
    handler = WebhookHandler(Dispatcher(), Bot(DEFAULT_TOKEN), secret_token="s")
    stuck = asyncio.create_task(asyncio.Event().wait())
    quick = asyncio.create_task(asyncio.sleep(0))
    handler._background_feed_update_tasks.update({stuck, quick})
    await handler.finish(0.05)
    assert stuck.cancelled()
    assert quick.done()
    assert not quick.cancelled()
    await handler.bot.session.close()


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


async def test_an_update_posted_again_after_a_lost_answer_is_handled_once(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(make_settings(tmp_path, smsman, telegram, **WEBHOOK)) as app:
        await webhook_address(app)
        telegram.webhook_answers_to_lose = 1
        await main_menu(user)
        await telegram.wait_until(lambda: any(a.delivered for a in telegram.webhook_attempts))
        await bot_idle(telegram, app)
        await main_menu(user)

    [lost, again, _next] = telegram.webhook_attempts
    assert lost.update_id == again.update_id
    assert not lost.delivered
    assert again.delivered
    assert sum("Hi," in m.text for m in user.bot_messages) == 2, "one menu per /start"


async def test_a_post_with_the_secret_that_is_not_an_update_is_400_and_logged(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    run_bot: RunBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = {SECRET_HEADER: str(WEBHOOK["webhook_secret"])}
    async with run_bot(make_settings(tmp_path, smsman, telegram, **WEBHOOK)) as app:
        url = await webhook_address(app)
        async with aiohttp.ClientSession() as http:
            for body in (b"{not json", b'{"hello": 1}', b"[]", b'{"update_id": "x"}'):
                async with http.post(url, data=body, headers=headers) as response:
                    assert response.status == 400, body
        await main_menu(telegram.user(ALLOWED_ID, language_code="en"))

    refused = [r for r in caplog.records if "not an update" in r.getMessage()]
    assert len(refused) == 4
    assert all(b"hello" not in r.getMessage().encode() for r in refused), "the body is not logged"
