"""Owner commands of wallet mode: /credit, /wallet and /refundstars."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.config import Settings
from bot.money import format_money
from bot.storage.database import Database
from bot.storage.records import LedgerKind
from bot.storage.wallets import InsufficientFunds
from bot.wallet.owner import StarsRefund, WalletDesk
from bot.wallet.upkeep import PERIOD_SECONDS
from handlers.admin import admins_only
from handlers.wallet import in_wallet_mode, movement_line

MOVEMENTS_SHOWN = 15
LARGEST_CREDIT = Decimal("1000000")


def _user_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else None


def _amount(text: str) -> Decimal | None:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount == 0 or abs(amount) > LARGEST_CREDIT:
        return None
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else None


async def on_credit(
    message: Message, command: CommandObject, desk: WalletDesk, db: Database, settings: Settings
) -> None:
    parts = (command.args or "").split(maxsplit=2)
    user_id = _user_id(parts[0]) if parts else None
    amount = _amount(parts[1]) if len(parts) > 1 else None
    reason = parts[2].strip() if len(parts) > 2 else ""
    if user_id is None or amount is None or not reason:
        await message.answer(
            _("Usage: /credit {example}").format(
                example="<code>123456789 50.00 compensation for order 17</code>"
            )
        )
        return
    try:
        await desk.credit(message.from_user.id, user_id, amount, reason)  # type: ignore[union-attr]
    except InsufficientFunds as short:
        await message.answer(
            _("⛔ Not done: the balance is {balance}, it may not go below zero.").format(
                balance=format_money(short.balance, settings.currency)
            )
        )
        return
    balance = format_money(await db.balance(user_id), settings.currency)
    await message.answer(
        _("✅ Wallet of <code>{id}</code>: {amount}, balance {balance}.").format(
            id=user_id, amount=format_money(amount, settings.currency), balance=balance
        )
    )


async def on_wallet(
    message: Message, command: CommandObject, db: Database, settings: Settings
) -> None:
    user_id = _user_id((command.args or "").strip())
    if user_id is None:
        await message.answer(_("Usage: /wallet {example}").format(example="<code>123456789</code>"))
        return
    lines = [
        _("💳 Wallet of <code>{id}</code>: {balance}").format(
            id=user_id, balance=format_money(await db.balance(user_id), settings.currency)
        )
    ]
    for entry in await db.ledger(user_id, MOVEMENTS_SHOWN):
        line = movement_line(entry, settings.currency)
        if entry.kind is LedgerKind.TOPUP:
            line += f" · <code>{html.quote(entry.key)}</code>"
        if entry.reason:
            line += f" · {html.quote(entry.reason)}"
        lines.append(line)
    await message.answer("\n".join(lines))


async def on_refund_stars(message: Message, command: CommandObject, desk: WalletDesk) -> None:
    charge_id = (command.args or "").strip()
    if not charge_id or len(charge_id) > 200:
        await message.answer(
            _("Usage: /refundstars {example}").format(example="<code>CHARGE_ID</code>")
        )
        return
    outcome = await desk.refund_stars(charge_id)
    minutes = math.ceil(PERIOD_SECONDS / 60)
    texts = {
        StarsRefund.DONE: _("✅ The Stars are returned; the wallet was debited."),
        StarsRefund.NO_SUCH_TOP_UP: _("No top-up has this charge id (see /wallet ID)."),
        StarsRefund.ALREADY: _("These Stars were returned already."),
        StarsRefund.SPENT: _("⛔ Not done: the wallet holds less than this top-up added."),
        StarsRefund.REFUSED: _("⛔ Telegram refused the refund; the wallet is as it was."),
        StarsRefund.UNANSWERED: ngettext(
            "⏳ Telegram did not answer; the debit stays pending and Telegram is asked again "
            "within {minutes} minute (or send the command again).",
            "⏳ Telegram did not answer; the debit stays pending and Telegram is asked again "
            "within {minutes} minutes (or send the command again).",
            minutes,
        ).format(minutes=minutes),
    }
    await message.answer(texts[outcome])


def build_router() -> Router:
    router = Router(name="owner_wallet")
    router.message.filter(admins_only)
    router.message.filter(in_wallet_mode)
    router.message.register(on_credit, Command("credit"))
    router.message.register(on_wallet, Command("wallet"))
    router.message.register(on_refund_stars, Command("refundstars"))
    return router
