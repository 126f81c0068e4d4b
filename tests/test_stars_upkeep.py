"""The Stars upkeep: Telegram's record read on from a bookmark, past what aiogram cannot read,
on a timer that never holds up the start; unanswered Stars refunds asked again on it."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.factory import Application
from bot.storage.records import LedgerKind
from bot.storage.wallets import Movement
from bot.wallet.star_transactions import BOOKMARK
from bot.wallet.upkeep import PERIOD_SECONDS, StarsUpkeep
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from emulators.telegram.payments import StarPayment
from tests.conftest import ALLOWED_ID, RunBot, make_settings
from tests.flows import main_menu
from tests.sim.world import EPOCH, World

WALLET: dict[str, Any] = {"sales_mode": "wallet", "star_price": "1.30", "topup_stars": "50,100"}
PAID_AT = 1_700_000_000


@pytest.fixture
def wallet_settings(tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator) -> Settings:
    return make_settings(tmp_path, smsman, telegram, **WALLET)


def lost_payment(telegram: TelegramEmulator, charge_id: str, stars: int, date: int) -> None:
    """Telegram took the Stars; the bot never saw the successful_payment (it was down)."""
    telegram.star_payments[charge_id] = StarPayment(
        charge_id, ALLOWED_ID, stars, f"topup:{stars}", date=date
    )


async def balance_becomes(app: Application, expected: Decimal) -> None:
    """Within 5 s: the first round runs in the background, nothing tells when it is done."""
    for _ in range(250):
        if await app.db.balance(ALLOWED_ID) == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the balance is {await app.db.balance(ALLOWED_ID)}, not {expected}")


def upkeep(app: Application) -> StarsUpkeep:
    kept = app.dp["stars_upkeep"]
    assert isinstance(kept, StarsUpkeep)
    return kept


def offsets(telegram: TelegramEmulator) -> list[object]:
    return [c.params.get("offset") for c in telegram.calls_of("getStarTransactions")]


async def test_transactions_aiogram_cannot_read_are_skipped_and_the_bot_starts(
    telegram: TelegramEmulator,
    run_bot: RunBot,
    wallet_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    newer = {"id": "gift1", "amount": 5, "date": PAID_AT, "source": {"type": "gift_exchange"}}
    telegram.list_transaction(newer, PAID_AT)
    lost_payment(telegram, "stxLost1", 100, PAID_AT + 1)
    telegram.list_transaction({"id": "bad1", "date": PAID_AT + 2}, PAID_AT + 2)
    with caplog.at_level(logging.WARNING, logger="bot.wallet.star_transactions"):
        async with run_bot(wallet_settings) as app:
            await main_menu(user)
            await balance_becomes(app, Decimal("130.00"))
            await upkeep(app).round()
            assert await app.db.balance(ALLOWED_ID) == Decimal("130.00"), "credited once"
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 2, "each is logged once, however often its page is read"
    assert "'gift1'" in skipped[0]
    assert "'bad1'" in skipped[1]


async def test_each_round_reads_on_from_the_last_full_page(
    telegram: TelegramEmulator, run_bot: RunBot, wallet_settings: Settings
) -> None:
    telegram.user(ALLOWED_ID, language_code="en")
    for n in range(229):
        payment = StarPayment(f"stxOther{n}", ALLOWED_ID, 1, "another bot's", date=PAID_AT + n)
        telegram.star_payments[payment.charge_id] = payment
    lost_payment(telegram, "stxLost1", 100, PAID_AT + 500)
    async with run_bot(wallet_settings) as app:
        await balance_becomes(app, Decimal("130.00"))
        assert offsets(telegram) == [0, 100, 200]
        assert await app.db.bookmark(BOOKMARK) == "200", "the partial page is read again"
        lost_payment(telegram, "stxLost2", 50, PAID_AT + 600)
        telegram.fail_next("getStarTransactions", 500, "Internal Server Error")
        await upkeep(app).round()
        assert await app.db.bookmark(BOOKMARK) == "200"
        await upkeep(app).round()
        assert await app.db.balance(ALLOWED_ID) == Decimal("195.00")
        assert offsets(telegram) == [0, 100, 200, 200, 200]
    telegram.reset_calls()
    async with run_bot(wallet_settings) as app:
        await telegram.wait_until(lambda: telegram.calls_of("getStarTransactions"))
        assert offsets(telegram) == [200], "the bookmark outlives the process"


def test_rounds_come_every_few_minutes(tmp_path: Path, locales: Path) -> None:
    """On the production timer, in virtual time: a top-up missed by a crash is credited at
    the next round, a refund Telegram did not answer is asked again at the one after."""
    world = World(tmp_path, locales, **WALLET)
    try:
        app = world.open()
        assert app is not None
        telegram = world.telegram
        telegram.user(ALLOWED_ID)
        world.advance(1)
        assert len(telegram.calls_of("getStarTransactions")) == 1, "one round at the start"
        lost_payment(telegram, "stxLost1", 100, int(EPOCH))
        world.advance(PERIOD_SECONDS - 5)
        assert world.run(app.db.balance(ALLOWED_ID)) == 0
        world.advance(10)
        assert world.run(app.db.balance(ALLOWED_ID)) == Decimal("130.00")

        debit = Movement(
            ALLOWED_ID, LedgerKind.STARS_REFUND, "stxLost1", Decimal("-130.00"), pending=True
        )
        world.run(app.db.post(debit, world.now()))
        telegram.fail_next("refundStarPayment", 502, "Bad Gateway")
        world.advance(PERIOD_SECONDS)
        assert telegram.star_payments["stxLost1"].refunded_at is None
        assert world.run(app.db.pending(LedgerKind.STARS_REFUND)), "unanswered: still pending"
        world.advance(PERIOD_SECONDS)
        assert telegram.star_payments["stxLost1"].refunded_at is not None
        assert world.run(app.db.pending(LedgerKind.STARS_REFUND)) == []
        assert world.run(app.db.balance(ALLOWED_ID)) == 0
        rounds = len(telegram.calls_of("getStarTransactions"))
        assert rounds == 4, "one at the start, then one every period"
    finally:
        world.close()
