"""The Telegram emulator's Stars payments, driven by a real aiogram Bot over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramBadRequest
from aiogram.types import LabeledPrice, Message, Update

from emulators.telegram import TelegramEmulator
from emulators.telegram.payments import PRE_CHECKOUT_SECONDS
from tests.test_telegram_emulator import TOKEN, make_bot

USER_ID = 1001


@pytest.fixture
async def bot(telegram: TelegramEmulator) -> AsyncIterator[Bot]:
    bot = make_bot(telegram.base_url, TOKEN)
    yield bot
    await bot.session.close()


async def invoice(bot: Bot, amount: int = 50, payload: str = "topup:50") -> Message:
    return await bot.send_invoice(
        USER_ID,
        title="Top up",
        description="50 Stars to your wallet",
        payload=payload,
        currency="XTR",
        prices=[LabeledPrice(label="50 ⭐", amount=amount)],
    )


async def next_update(bot: Bot, offset: int) -> Update:
    (update,) = await bot.get_updates(offset=offset, timeout=1)
    return update


async def test_a_person_pays_an_invoice_once_the_bot_says_ok(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    user = telegram.user(USER_ID)
    sent = await invoice(bot)
    assert sent.invoice is not None
    assert (sent.invoice.currency, sent.invoice.total_amount) == ("XTR", 50)
    shown = user.chat.find(sent.message_id)
    assert shown is not None
    assert shown.text == "", "an invoice has no text"
    await user.pay(shown)
    update = await next_update(bot, 0)
    query = update.pre_checkout_query
    assert query is not None
    assert (query.from_user.id, query.total_amount, query.invoice_payload) == (
        USER_ID,
        50,
        "topup:50",
    )
    assert await bot.answer_pre_checkout_query(query.id, ok=True)
    paid = await next_update(bot, update.update_id + 1)
    assert paid.message is not None
    payment = paid.message.successful_payment
    assert payment is not None
    assert (payment.currency, payment.total_amount, payment.invoice_payload) == (
        "XTR",
        50,
        "topup:50",
    )
    assert payment.telegram_payment_charge_id in telegram.star_payments
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_pre_checkout_query(query.id, ok=True)

    telegram.redeliver_payment(payment.telegram_payment_charge_id)
    again = await next_update(bot, paid.update_id + 1)
    assert again.message is not None
    assert again.message.successful_payment == payment, "the same payment, sent twice"


async def test_a_refused_or_late_checkout_takes_no_money(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    user = telegram.user(USER_ID)
    sent = user.chat.find((await invoice(bot)).message_id)
    assert sent is not None
    refused = await user.pay(sent)
    with pytest.raises(TelegramBadRequest, match="ERROR_MESSAGE_EMPTY"):
        await bot.answer_pre_checkout_query(refused.id, ok=False)
    assert await bot.answer_pre_checkout_query(refused.id, ok=False, error_message="Sold out")
    assert refused.error_message == "Sold out"
    late = await user.pay(sent)
    late.created_at -= PRE_CHECKOUT_SECONDS + 1
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_pre_checkout_query(late.id, ok=True)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_pre_checkout_query("12345", ok=True)
    assert telegram.star_payments == {}


async def test_a_payment_is_refunded_once(telegram: TelegramEmulator, bot: Bot) -> None:
    user = telegram.user(USER_ID)
    sent = user.chat.find((await invoice(bot, 100)).message_id)
    assert sent is not None
    query = await user.pay(sent)
    await bot.answer_pre_checkout_query(query.id, ok=True)
    (charge_id,) = telegram.star_payments
    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(USER_ID + 1, charge_id)
    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(USER_ID, "stxNothing")
    assert await bot.refund_star_payment(USER_ID, charge_id)
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(USER_ID, charge_id)
    history = await bot.get_star_transactions()
    assert [(t.id, t.amount, t.source is not None) for t in history.transactions] == [
        (charge_id, 100, True),
        (charge_id, 100, False),
    ]


async def test_transactions_aiogram_cannot_read_are_listed_in_their_place(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    """What a newer Bot API may send: a partner type this aiogram does not know, and one
    malformed; aiogram refuses the whole page for either."""
    user = telegram.user(USER_ID)
    sent = user.chat.find((await invoice(bot)).message_id)
    assert sent is not None
    await bot.answer_pre_checkout_query((await user.pay(sent)).id, ok=True)
    (charge_id,) = telegram.star_payments
    paid_at = telegram.star_payments[charge_id].date
    gift = {"id": "gift1", "amount": 5, "date": paid_at - 1, "source": {"type": "gift_exchange"}}
    telegram.list_transaction(gift, paid_at - 1)
    telegram.list_transaction({"id": "bad1", "date": paid_at + 1}, paid_at + 1)
    status, body = await telegram.call(TOKEN, "getStarTransactions", {"offset": 1, "limit": 2})
    assert status == 200
    assert [t["id"] for t in body["result"]["transactions"]] == [charge_id, "bad1"]
    with pytest.raises(ClientDecodeError):
        await bot.get_star_transactions()
    telegram.forget_payments()
    assert (await bot.get_star_transactions()).transactions == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"provider_token": "284685063:TEST"}, "PROVIDER_TOKEN_INVALID"),
        ({"currency": "USD"}, "only takes payments in Stars"),
        ({"prices": [{"label": "a", "amount": 1}, {"label": "b", "amount": 1}]}, "exactly one"),
        ({"prices": [{"label": "a", "amount": 0}]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"title": "x" * 33}, "INVOICE_TITLE_INVALID"),
        ({"payload": "p" * 129}, "INVOICE_PAYLOAD_INVALID"),
    ],
)
async def test_invoices_are_checked_as_telegram_does(
    telegram: TelegramEmulator, change: dict[str, object], error: str
) -> None:
    telegram.user(USER_ID)
    params: dict[str, object] = {
        "chat_id": USER_ID,
        "title": "Top up",
        "description": "Stars",
        "payload": "p",
        "currency": "XTR",
        "prices": [{"label": "a", "amount": 5}],
    }
    status, body = await telegram.call(TOKEN, "sendInvoice", params | change)
    assert status == 400
    assert error in str(body.get("description"))
