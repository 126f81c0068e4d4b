"""The person's wallet (wallet mode): balance and movements, top-ups paid in Telegram Stars."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from aiogram import Bot, F, Router, html
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.config import Settings
from bot.money import format_money
from bot.orders.cards import countdown
from bot.person_rates import PAY_SUPPORT, PersonRates
from bot.storage.database import Database
from bot.storage.records import LedgerEntry, LedgerKind
from bot.telegram.callback_answer import Answer
from bot.telegram.pacer import Priority, priority
from bot.wallet.topups import STARS, TopUps, payload_for
from handlers.render import show
from keyboards.callbacks import MenuAction, MenuCb, TopUpCb, WalletAction, WalletCb
from keyboards.pickers import Item, buttons

log = logging.getLogger(__name__)

MOVEMENTS_SHOWN = 10


def movement_label(kind: LedgerKind) -> str:
    labels = {
        LedgerKind.TOPUP: _("⭐ Top-up"),
        LedgerKind.PURCHASE: _("🛒 Number"),
        LedgerKind.REVERSAL: _("↩️ Not bought"),
        LedgerKind.REFUND: _("↩️ Refund"),
        LedgerKind.ADJUSTMENT: _("🛠 Correction by the owner"),
        LedgerKind.STARS_REFUND: _("⭐ Stars returned"),
        LedgerKind.STARS_REFUND_DONE: _("⭐ Stars return confirmed by Telegram"),
        LedgerKind.STARS_REFUND_UNDONE: _("↩️ Stars return refused by Telegram, given back"),
        LedgerKind.HOLD_KEPT: _("✔️ Held charge confirmed by the owner"),
    }
    return labels[kind]


def movement_line(entry: LedgerEntry, currency: str) -> str:
    when = datetime.fromtimestamp(entry.created_at, UTC).strftime("%Y-%m-%d %H:%M")
    sign = "+" if entry.amount > 0 else "−" if entry.amount < 0 else ""
    amount = format_money(abs(entry.amount), currency)
    line = f"{when} · {movement_label(entry.kind)} · {sign}{amount}"
    if entry.pending:
        # Written before Telegram was asked to return the Stars; it counts until then.
        line += " · " + _("pending")
    return line


async def on_wallet(query: CallbackQuery, db: Database, settings: Settings, answer: Answer) -> None:
    user_id = query.from_user.id
    balance = await db.balance(user_id)
    lines = [
        _("💳 Your balance: {balance}").format(balance=format_money(balance, settings.currency))
    ]
    entries = await db.ledger(user_id, MOVEMENTS_SHOWN)
    if entries:
        lines.append(_("Latest movements (times in UTC):"))
        lines += [movement_line(e, settings.currency) for e in entries]
    top_up = Item(_("💳 Top up"), WalletCb(action=WalletAction.TOP_UP))
    await show(query, "\n".join(lines), buttons([top_up], back=MenuCb(action=MenuAction.MAIN)))


async def on_top_up_menu(query: CallbackQuery, top_ups: TopUps, settings: Settings) -> None:
    items = [
        Item(
            _("{stars} ⭐ → +{credit}").format(
                stars=stars, credit=format_money(credit, settings.currency)
            ),
            TopUpCb(stars=stars),
        )
        for stars, credit in top_ups.choices()
    ]
    text = _("💳 How many Stars? Each amount shows what it adds to your wallet.")
    await show(query, text, buttons(items, back=WalletCb(action=WalletAction.SHOW)))


async def on_top_up(
    query: CallbackQuery,
    callback_data: TopUpCb,
    top_ups: TopUps,
    settings: Settings,
    bot: Bot,
    answer: Answer,
) -> None:
    stars = callback_data.stars
    if not top_ups.offered(stars):
        await answer(_("This amount is not offered any more."), show_alert=True)
        return
    credit = format_money(top_ups.credit_for(stars), settings.currency)
    await answer()
    await bot.send_invoice(
        query.from_user.id,
        title=_("Wallet top-up"),
        description=_("{credit} to your wallet in this bot.").format(credit=credit),
        payload=payload_for(stars),
        currency=STARS,
        prices=[LabeledPrice(label=f"{stars} ⭐", amount=stars)],
    )


async def on_pre_checkout(query: PreCheckoutQuery, top_ups: TopUps) -> None:
    """Telegram waits at most 10 s for this: it reads nothing but memory and the wallet."""
    ok = await top_ups.may_pay(
        query.from_user.id, query.invoice_payload, query.currency, query.total_amount
    )
    if ok:
        await query.answer(ok=True)
        return
    log.info("pre-checkout %s refused: %r", query.id, query.invoice_payload)
    await query.answer(
        ok=False, error_message=_("This top-up is not offered any more. Please start again.")
    )


async def on_paid(message: Message, top_ups: TopUps, db: Database, settings: Settings) -> None:
    payment = message.successful_payment
    user = message.from_user
    if payment is None or user is None:
        return
    entry = await top_ups.credit(user.id, payment.total_amount, payment.telegram_payment_charge_id)
    balance = format_money(await db.balance(user.id), settings.currency)
    if entry is None:
        # Telegram delivered the same payment again: it was credited the first time.
        log.info("payment %s already credited", payment.telegram_payment_charge_id)
        return
    log.info("user %s topped up %s Stars", user.id, payment.total_amount)
    await message.answer(
        _("✅ {credit} added to your wallet. Balance: {balance}").format(
            credit=format_money(entry.amount, settings.currency), balance=balance
        ),
        reply_markup=buttons([], back=MenuCb(action=MenuAction.MAIN)),
    )


async def on_pay_support(
    message: Message, command: CommandObject, settings: Settings, bot: Bot, rates: PersonRates
) -> None:
    """Telegram requires it of bots that take payments: the person's words reach the owner,
    at most `PAY_SUPPORT` times an hour, each admin on their own."""
    user = message.from_user
    words = (command.args or "").strip()
    if user is not None and words and (wait := rates.pay_support.take(user.id)) > 0:
        log.info("payment support by %s refused: %d an hour", user.id, PAY_SUPPORT)
        await message.answer(
            ngettext(
                "💬 You have written to the owner {count} time in the last hour. "
                "Please try again in {time}.",
                "💬 You have written to the owner {count} times in the last hour. "
                "Please try again in {time}.",
                PAY_SUPPORT,
            ).format(count=PAY_SUPPORT, time=countdown(wait))
        )
        return
    if user is None or not words:
        await message.answer(
            _(
                "💬 Payment support: send /paysupport followed by what went wrong, with the "
                "date and the amount, e.g. <code>/paysupport my top-up of 50 Stars is not in "
                "the wallet</code>. The bot's owner answers here. Stars are returned for a "
                "top-up that was not credited, or that you have not spent."
            )
        )
        return
    text = f"💬 /paysupport · <code>{user.id}</code>\n{html.quote(words[:3000])}"
    # What admins must read goes as a notice, before menus' share; one admin who blocked the
    # bot (or any refusal for one) does not keep it from the others.
    with priority(Priority.NOTICE):
        for admin in settings.admin_ids:
            try:
                await bot.send_message(admin, text)
            except TelegramAPIError as exc:
                log.warning("payment support for admin %s not sent: %s", admin, exc)
    log.info("payment support asked by %s", user.id)
    await message.answer(_("💬 Sent to the bot's owner, who answers here."))


async def on_terms(message: Message, settings: Settings) -> None:
    star = format_money(settings.star_price or Decimal(0), settings.currency)
    await message.answer(
        _(
            "📄 Terms: a top-up adds {star} per Star to your wallet in this bot. A number "
            "is paid from the wallet when you buy it; a number that gets no code, or that you "
            "cancel before one, is paid back to the wallet. The wallet is not money: it is "
            "spent here only. Problems with a payment: /paysupport."
        ).format(star=star)
    )


async def in_wallet_mode(_event: object, settings: Settings) -> bool:
    return settings.wallet


async def has_payment(message: Message) -> bool:
    """`F.successful_payment`, awaited: aiogram runs magic filters in a worker thread."""
    return message.successful_payment is not None


def build_router() -> Router:
    """Only in wallet mode: when the owner pays, none of this exists for people."""
    router = Router(name="wallet")
    for observer in (router.message, router.callback_query, router.pre_checkout_query):
        observer.filter(in_wallet_mode)
    router.callback_query.register(on_wallet, WalletCb.filter(F.action == WalletAction.SHOW))
    router.callback_query.register(on_top_up_menu, WalletCb.filter(F.action == WalletAction.TOP_UP))
    router.callback_query.register(on_top_up, TopUpCb.filter())
    router.pre_checkout_query.register(on_pre_checkout)
    router.message.register(on_paid, has_payment)
    router.message.register(on_pay_support, Command("paysupport"))
    router.message.register(on_terms, Command("terms"))
    return router
