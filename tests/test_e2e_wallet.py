"""End to end in wallet mode: top up with Stars, buy at the markup, get it back when unsold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import Settings
from bot.factory import Application
from bot.orders.lifecycle import OrderStatus
from bot.storage.records import LedgerKind
from bot.storage.wallets import Movement
from emulators.smsman import SmsManEmulator
from emulators.telegram import ChatMessage, SimUser, TelegramEmulator
from emulators.telegram.payments import StarPayment
from keyboards.callbacks import TopUpCb
from tests.conftest import ADMIN_ID, ALLOWED_ID, RunBot, make_settings
from tests.flows import labels, main_menu, open_usa, price_screen, wait_for_button

USA, TELEGRAM = 5, 3
# 12.50 × 1.3 = 16.25 is under cost + 5: the minimum markup makes it 17.50.
COST, SELLING = Decimal("12.50"), Decimal("17.50")


@pytest.fixture
def wallet_settings(tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator) -> Settings:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=COST)
    return make_settings(
        tmp_path,
        smsman,
        telegram,
        sales_mode="wallet",
        star_price="1.30",
        topup_stars="50,100",
    )


@pytest.fixture
async def wallet_app(run_bot: RunBot, wallet_settings: Settings) -> AsyncIterator[Application]:
    async with run_bot(wallet_settings) as app:
        yield app


async def top_up(user: SimUser, telegram: TelegramEmulator, stars: int = 50) -> ChatMessage:
    """Menu → Wallet → Top up → an amount → pay the invoice: the bot's confirmation."""
    await main_menu(user)
    await (await user.tap("💳 Wallet")).answered()
    await user.wait_for_text("Your balance")
    await (await user.tap("Top up")).answered()
    await wait_for_button(user, f"{stars} ⭐")
    await (await user.tap(f"{stars} ⭐ →")).answered()
    invoice = await user.wait_for_message(lambda m: m.invoice is not None)
    checkout = await user.pay(invoice)
    await telegram.wait_until(lambda: checkout.ok is not None)
    assert checkout.ok
    return await user.wait_for_text("added to your wallet")


async def held_purchase(
    user: SimUser, admin: SimUser, telegram: TelegramEmulator, smsman: SmsManEmulator
) -> tuple[ChatMessage, ChatMessage]:
    """A top-up, then a purchase SMS-man never confirms: its card, and the owner's /orders."""
    await top_up(user, telegram)
    price = await price_screen(user)
    smsman.fail_next("get-number", "http_502")
    await (await user.tap("Buy for", message=price)).answered()
    lost = await user.wait_for_text("did not confirm this purchase")
    await admin.send("/orders")
    return lost, await admin.wait_for_text("need a look")


async def owner_stats(admin: SimUser) -> ChatMessage:
    await admin.send("/stats")
    return await admin.wait_for_text("Statistics")


async def test_top_up_with_stars_is_credited_once(
    telegram: TelegramEmulator, wallet_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    done = await top_up(user, telegram)
    assert "65.00 ₽ added to your wallet. Balance: 65.00 ₽" in done.text
    (charge_id,) = telegram.star_payments
    telegram.redeliver_payment(charge_id)
    await asyncio.sleep(0.3)
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("65.00"), "a replay credits nothing"
    entry = await wallet_app.db.entry(LedgerKind.TOPUP, charge_id)
    assert entry is not None
    assert entry.stars == 50


async def test_buy_at_the_markup_and_get_it_back_on_cancel(
    telegram: TelegramEmulator, smsman: SmsManEmulator, wallet_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await top_up(user, telegram)
    price = await price_screen(user)
    assert "Price: 17.50 ₽" in price.text
    assert "Your balance: 65.00 ₽" in price.text
    first = await user.tap("Buy for 17.50 ₽", message=price)
    second = await user.tap("Buy for 17.50 ₽", message=price)
    await first.answered()
    await second.answered()
    card = await user.wait_for_text("Waiting for the SMS")
    assert "Price: 17.50 ₽" in card.text, "the card shows what the person paid"
    calls = [c for c in smsman.calls if c.endpoint == "get-number"]
    assert len(calls) == 1, "a double tap buys once"
    assert Decimal(calls[0].params["maxPrice"]) == COST, "SMS-man's cap is the provider cost"
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("47.50")

    await (await user.tap("Cancel")).answered()
    await user.wait_for_text("Cancelled")
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("65.00")
    kinds = [e.kind for e in await wallet_app.db.ledger(ALLOWED_ID, 10)]
    assert kinds == [LedgerKind.REFUND, LedgerKind.PURCHASE, LedgerKind.TOPUP]


async def test_too_little_money_offers_a_top_up_and_buys_nothing(
    telegram: TelegramEmulator, smsman: SmsManEmulator, wallet_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await open_usa(user)
    await user.send("telegram")
    price = await wait_for_button(user, "Top up")
    assert "Your balance: 0.00 ₽" in price.text
    assert not any("Buy for" in label for label in labels(price))
    assert "💳 Top up" in labels(price)
    # A Buy button from before the wallet ran low is refused by the wallet itself.
    quote = await wallet_app.db.get_quote(1)
    assert quote is not None
    await (await user.tap_data(f"b:{quote.id}", message=price)).answered()
    refused = await user.wait_for_text("Not enough in your wallet")
    assert "💳 Top up" in labels(refused)
    assert not [c for c in smsman.calls if c.endpoint == "get-number"]
    assert await wallet_app.db.user_open_orders(ALLOWED_ID) == []


async def test_a_purchase_that_sold_nothing_is_reversed(
    telegram: TelegramEmulator, smsman: SmsManEmulator, wallet_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await top_up(user, telegram)
    price = await price_screen(user)
    # The price went up meanwhile: SMS-man refuses maxPrice, nothing is sold.
    smsman.set_stock(USA, TELEGRAM, cost=Decimal("20.00"))
    await (await user.tap("Buy for", message=price)).answered()
    await user.wait_for_text("The price went up")
    orders = await wallet_app.db.orders_since(ALLOWED_ID, 0)
    assert [o.status for o in orders] == [OrderStatus.FAILED]
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("65.00")
    kinds = [e.kind for e in await wallet_app.db.ledger(ALLOWED_ID, 10)]
    assert kinds == [LedgerKind.REVERSAL, LedgerKind.PURCHASE, LedgerKind.TOPUP]


async def test_only_offered_amounts_may_be_paid(
    telegram: TelegramEmulator, wallet_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await main_menu(user)
    forged = await (await user.tap_data(TopUpCb(stars=7).pack())).answered()
    assert forged.show_alert
    assert not [c for c in telegram.calls if c.method == "sendInvoice"]


async def test_a_balance_and_a_replayed_payment_survive_a_restart(
    telegram: TelegramEmulator, run_bot: RunBot, wallet_settings: Settings
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(wallet_settings):
        await top_up(user, telegram, stars=100)
    (charge_id,) = telegram.star_payments
    telegram.redeliver_payment(charge_id)
    async with run_bot(wallet_settings) as app:
        # The replay was queued before this: it has been handled once the menu answers.
        await main_menu(user)
        await asyncio.sleep(0.2)
        assert await app.db.balance(ALLOWED_ID) == Decimal("130.00")


async def test_owner_mode_has_no_wallet(telegram: TelegramEmulator, bot_app: Application) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    menu = await main_menu(user)
    assert not any("Wallet" in label for label in labels(menu))
    await user.send("/terms")
    reply = await user.wait_for_message(lambda m: True)
    assert "Terms" not in reply.text


async def test_the_owner_corrects_a_wallet_never_below_zero(
    telegram: TelegramEmulator, wallet_app: Application
) -> None:
    admin = telegram.user(ADMIN_ID, language_code="en")
    await admin.send(f"/credit {ALLOWED_ID} 20.00 welcome gift")
    done = await admin.wait_for_text("Wallet of")
    assert "balance 20.00 ₽" in done.text
    await admin.send(f"/credit {ALLOWED_ID} -30 too much")
    refused = await admin.wait_for_text("Not done")
    assert "20.00 ₽" in refused.text
    await admin.send(f"/credit {ALLOWED_ID} 1.234 cents only")
    await admin.wait_for_text("Usage: /credit")
    await admin.send(f"/wallet {ALLOWED_ID}")
    shown = await admin.wait_for_text("Wallet of")
    assert "welcome gift" in shown.text
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("20.00")
    # Not for people who are not admins.
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send(f"/credit {ALLOWED_ID} 100 me")
    await user.wait_for_text("Use the menu")
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("20.00")


async def test_stars_are_returned_once_and_only_while_unspent(
    telegram: TelegramEmulator, wallet_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    admin = telegram.user(ADMIN_ID, language_code="en")
    await top_up(user, telegram)
    await top_up(user, telegram)
    first, second = telegram.star_payments
    price = await price_screen(user)
    await (await user.tap("Buy for", message=price)).answered()
    await user.wait_for_text("Waiting for the SMS")
    # 130.00 - 17.50 = 112.50: one top-up (65.00) can go back, not both.
    await admin.send(f"/refundstars {first}")
    await admin.wait_for_text("The Stars are returned")
    await admin.send(f"/refundstars {first}")
    await admin.wait_for_text("returned already")
    await admin.send(f"/refundstars {second}")
    await admin.wait_for_text("holds less than this top-up added")
    await admin.send("/refundstars nothing")
    await admin.wait_for_text("No top-up has this charge id")
    assert telegram.star_payments[first].refunded_at is not None
    assert telegram.star_payments[second].refunded_at is None
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("47.50")
    stats = await owner_stats(admin)
    assert "revenue 17.50 ₽ · provider cost 12.50 ₽ · margin 5.00 ₽" in stats.text


async def test_a_stars_refund_cut_short_by_a_crash_is_finished_at_the_next_start(
    telegram: TelegramEmulator, run_bot: RunBot, wallet_settings: Settings
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(wallet_settings) as app:
        await top_up(user, telegram)
        (charge_id,) = telegram.star_payments
        # The debit was written, then the process died before Telegram was asked.
        debit = Movement(
            ALLOWED_ID, LedgerKind.STARS_REFUND, charge_id, Decimal("-65.00"), pending=True
        )
        await app.db.post(debit, now=1.0)
    async with run_bot(wallet_settings) as app:
        await telegram.wait_until(lambda: telegram.star_payments[charge_id].refunded_at is not None)
        await asyncio.sleep(0.1)
        assert await app.db.pending(LedgerKind.STARS_REFUND) == []
        assert await app.db.balance(ALLOWED_ID) == 0


async def test_a_charge_smsman_left_unknown_waits_for_the_owner(
    telegram: TelegramEmulator, smsman: SmsManEmulator, wallet_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    admin = telegram.user(ADMIN_ID, language_code="en")
    lost, listing = await held_purchase(user, admin, telegram, smsman)
    assert "Your 17.50 ₽ is on hold" in lost.text
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("47.50"), "held, not given back"
    assert "wallet charge 17.50 ₽" in listing.text
    await (await admin.tap("Give order #1's charge back", message=listing)).answered()
    await user.wait_for_text("17.50 ₽ for order #1 is back in your wallet")
    card = await user.wait_for_message(
        lambda m: m.message_id == lost.message_id and "owner checked it" in m.text
    )
    assert "your 17.50 ₽ is back in your wallet" in card.text, "the card says what was decided"
    assert "on hold" not in card.text
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("65.00")
    again = await (await admin.tap("Keep order #1's charge", message=listing)).answered()
    assert again.show_alert, "decided once"
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("65.00")
    stats = await owner_stats(admin)
    assert "revenue 0.00 ₽" in stats.text, "a charge given back is no revenue"


async def test_a_payment_the_bot_never_heard_of_is_credited_from_telegrams_record(
    telegram: TelegramEmulator, run_bot: RunBot, wallet_settings: Settings
) -> None:
    telegram.user(ALLOWED_ID, language_code="en")
    # Telegram took 100 Stars while the bot was down between its ok and the payment message.
    telegram.star_payments["stxLost1"] = StarPayment(
        "stxLost1", ALLOWED_ID, 100, "topup:100", date=1_800_000_000
    )
    # A payment Telegram already returned is not credited.
    telegram.star_payments["stxBack1"] = StarPayment(
        "stxBack1", ALLOWED_ID, 50, "topup:50", date=1_800_000_001, refunded_at=1_800_000_002
    )
    async with run_bot(wallet_settings) as app:
        await telegram.wait_until(lambda: telegram.calls_of("getStarTransactions"))
        await asyncio.sleep(0.2)
        assert await app.db.balance(ALLOWED_ID) == Decimal("130.00")
    async with run_bot(wallet_settings) as app:
        await asyncio.sleep(0.3)
        assert await app.db.balance(ALLOWED_ID) == Decimal("130.00"), "once"


async def test_a_charge_held_before_a_switch_back_to_owner_mode_is_decided_after_it(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    run_bot: RunBot,
    wallet_settings: Settings,
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    admin = telegram.user(ADMIN_ID, language_code="en")
    async with run_bot(wallet_settings):
        lost, _listing = await held_purchase(user, admin, telegram, smsman)
    owner_mode = wallet_settings.model_copy(update={"sales_mode": "owner"})
    async with run_bot(owner_mode) as app:
        assert not app.settings.wallet
        await admin.send("/orders")
        listing = await admin.wait_for_text("need a look")
        assert "wallet charge 17.50 ₽" in listing.text
        kept = await (await admin.tap("Keep order #1's charge", message=listing)).answered()
        assert not kept.show_alert, kept.text
        assert kept.text == "✔️ 17.50 ₽ kept."
        card = await user.wait_for_message(
            lambda m: m.message_id == lost.message_id and "owner checked it" in m.text
        )
        assert "SMS-man sold the number, so your 17.50 ₽ stays charged" in card.text
        assert await app.db.balance(ALLOWED_ID) == Decimal("47.50")
        assert await app.db.hold_decision(1) is LedgerKind.HOLD_KEPT


async def test_two_decisions_on_one_held_charge_keep_only_the_first(
    telegram: TelegramEmulator, smsman: SmsManEmulator, wallet_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    admin = telegram.user(ADMIN_ID, language_code="en")
    _lost, listing = await held_purchase(user, admin, telegram, smsman)
    keep = await admin.tap("Keep order #1's charge", message=listing)
    give = await admin.tap("Give order #1's charge back", message=listing)
    answers = [await keep.answered(), await give.answered()]
    assert sorted(a.show_alert for a in answers) == [False, True], "one decision stands"
    entries = await wallet_app.db.ledger(ALLOWED_ID, 10)
    decided = [e.kind for e in entries if e.kind in (LedgerKind.REFUND, LedgerKind.HOLD_KEPT)]
    assert len(decided) == 1
    stats = await owner_stats(admin)
    revenue = "17.50 ₽" if decided == [LedgerKind.HOLD_KEPT] else "0.00 ₽"
    assert f"revenue {revenue}" in stats.text, "a kept hold is revenue, one given back is not"
    # Whatever was decided, the wallet screen shows it.
    await main_menu(user)
    await (await user.tap("💳 Wallet")).answered()
    await user.wait_for_text("Latest movements")


async def refund_telegram_fails(
    telegram: TelegramEmulator, error_code: int, description: str, told: str
) -> tuple[SimUser, SimUser, str]:
    """A top-up, then /refundstars for it, failing at Telegram as said: the person, the
    admin and the charge id."""
    user = telegram.user(ALLOWED_ID, language_code="en")
    admin = telegram.user(ADMIN_ID, language_code="en")
    await top_up(user, telegram)
    (charge_id,) = telegram.star_payments
    telegram.fail_next("refundStarPayment", error_code, description)
    await admin.send(f"/refundstars {charge_id}")
    await admin.wait_for_text(told)
    return user, admin, charge_id


async def test_an_unanswered_stars_refund_is_asked_again_on_the_next_command(
    telegram: TelegramEmulator, wallet_app: Application
) -> None:
    user, admin, charge_id = await refund_telegram_fails(
        telegram, 500, "Internal Server Error", "did not answer"
    )
    assert await wallet_app.db.balance(ALLOWED_ID) == 0, "the debit waits, pending"
    await main_menu(user)
    await (await user.tap("💳 Wallet")).answered()
    shown = await user.wait_for_text("Your balance")
    assert "⭐ Stars returned · −65.00 ₽ · pending" in shown.text
    await admin.send(f"/refundstars {charge_id}")
    await admin.wait_for_text("The Stars are returned")
    assert telegram.star_payments[charge_id].refunded_at is not None
    assert await wallet_app.db.pending(LedgerKind.STARS_REFUND) == []


async def test_a_refused_stars_refund_is_given_back_by_an_entry_and_may_be_asked_again(
    telegram: TelegramEmulator, wallet_app: Application
) -> None:
    _user, admin, charge_id = await refund_telegram_fails(
        telegram, 400, "Bad Request: BALANCE_TOO_LOW", "Telegram refused the refund"
    )
    assert await wallet_app.db.balance(ALLOWED_ID) == Decimal("65.00")
    await admin.send(f"/refundstars {charge_id}")
    await admin.wait_for_text("The Stars are returned")
    assert telegram.star_payments[charge_id].refunded_at is not None
    assert await wallet_app.db.balance(ALLOWED_ID) == 0
    moved = [(e.kind, e.key, e.amount) for e in await wallet_app.db.ledger(ALLOWED_ID, 10)]
    assert moved == [
        (LedgerKind.STARS_REFUND_DONE, f"{charge_id} 2", 0),
        (LedgerKind.STARS_REFUND, f"{charge_id} 2", Decimal("-65.00")),
        (LedgerKind.STARS_REFUND_UNDONE, charge_id, Decimal("65.00")),
        (LedgerKind.STARS_REFUND, charge_id, Decimal("-65.00")),
        (LedgerKind.TOPUP, charge_id, Decimal("65.00")),
    ], "every step of it is an entry, none changed or removed"
    await admin.send(f"/refundstars {charge_id}")
    await admin.wait_for_text("returned already")
