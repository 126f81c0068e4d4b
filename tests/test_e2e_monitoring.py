"""`/healthz` and `/metrics` of a running bot: the numbers move with what people and services do."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.factory import Application
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from tests.conftest import ALLOWED_ID, RunBot, make_settings
from tests.flows import buy_number, main_menu

USA, TELEGRAM = 5, 3
Samples = dict[str, float]


async def monitor_url(app: Application) -> str:
    async with asyncio.timeout(10):
        await app.monitor.listening.wait()
    return f"http://{app.monitor.address}"


async def scrape(app: Application) -> Samples:
    """Every sample, keyed like Prometheus shows it: name{label="value",...}."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{await monitor_url(app)}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def health(app: Application) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{await monitor_url(app)}/healthz")
    return response.status_code, response.json()


def moved(before: Samples, after: Samples, key: str) -> float:
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_the_numbers_move_with_a_purchase_and_its_code(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    settings = make_settings(tmp_path, smsman, telegram, metrics_listen="127.0.0.1:0")
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(settings) as app:
        await main_menu(user)
        before = await scrape(app)
        assert before["smsman_bot_orders_open"] == 0
        assert before["smsman_bot_codes_delivered_total"] == 0
        assert "smsman_bot_smsman_balance" not in before, "no 0 before the first reading"
        card = await buy_number(user)
        bought = await scrape(app)
        # Telegram keeps a code push's first try back with a 429: it is counted, then sent.
        telegram.fail_next(
            "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, text="code:"
        )
        smsman.deliver_sms(smsman.requests[0].request_id, "424242")
        await user.wait_for_text("code: 424242")
        # The card is redrawn once its chat's codes are out and recorded as delivered.
        await user.wait_for_message(
            lambda m: m.message_id == card.message_id and "424242" in m.text
        )
        after = await scrape(app)

    # /start, "usa", "telegram"; then Buy a number, Buy for.
    assert moved(before, bought, 'smsman_bot_updates_total{type="message"}') == 3
    assert moved(before, bought, 'smsman_bot_updates_total{type="callback_query"}') == 2
    assert moved(before, bought, 'smsman_bot_purchases_total{outcome="bought"}') == 1
    assert bought["smsman_bot_orders_open"] == 1
    get_number = 'smsman_bot_smsman_calls_total{endpoint="get-number",outcome="ok"}'
    assert moved(before, bought, get_number) == 1
    assert bought["smsman_bot_smsman_balance"] == float(smsman.balance)
    assert bought['smsman_bot_reachable{service="smsman"}'] == 1
    assert bought['smsman_bot_reachable{service="telegram"}'] == 1

    assert after["smsman_bot_codes_delivered_total"] == 1
    assert after["smsman_bot_code_delivery_seconds_count"] == 1
    assert after['smsman_bot_code_delivery_seconds_bucket{le="+Inf"}'] == 1
    assert after["smsman_bot_telegram_429_total"] == 1
    refused = 'smsman_bot_telegram_calls_total{method="sendMessage",outcome="refused"}'
    assert after[refused] == 1
    assert after[get_number] == 1, "one number bought"
    assert after['smsman_bot_smsman_calls_total{endpoint="get-sms",outcome="ok"}'] >= 1
    assert after["smsman_bot_orders_open"] == 1, "a code came; the order stays open until closed"
    assert 0 <= after["smsman_bot_poller_heartbeat_age_seconds"] < 30


async def test_healthz_is_ok_through_a_provider_outage_and_fails_when_the_poller_stops(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    settings = make_settings(tmp_path, smsman, telegram, metrics_listen="127.0.0.1:0")
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(settings) as app:
        await main_menu(user)
        status, body = await health(app)
        assert status == 200, body
        assert body["status"] == "ok"
        assert body["problems"] == []
        checks = body["checks"]
        assert isinstance(checks, dict)
        assert checks["poller"]["ok"] is True
        assert checks["database"] == {"ok": True, "error": None}
        reach = body["reachability"]
        assert isinstance(reach, dict)
        assert reach["telegram"]["reachable"] is True

        # SMS-man down: people are told, the monitor sees it, nobody restarts the bot.
        smsman.fail_next("countries", "http_500", times=3)
        await (await user.tap("Buy a number")).answered()
        await user.wait_for_text("not answering")
        status, body = await health(app)
        assert status == 200, body
        reach = body["reachability"]
        assert isinstance(reach, dict)
        assert reach["smsman"]["reachable"] is False
        assert "HTTP 500" in reach["smsman"]["last_error"]
        samples = await scrape(app)
        assert samples['smsman_bot_reachable{service="smsman"}'] == 0
        unavailable = 'smsman_bot_smsman_calls_total{endpoint="countries",outcome="unavailable"}'
        assert samples[unavailable] == 3

        # The poller is what keeps codes coming: without it the bot is of no use.
        await app.dp["poller"].stop()
        status, body = await health(app)
        assert status == 503
        assert body["status"] == "failing"
        assert body["problems"] == ["poller: not running (stopped or failed)"]
