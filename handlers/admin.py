"""Owner commands: /allow and /deny, /stats, and /orders with a retry for stuck orders."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Router, html
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.money import format_money
from bot.orders.cards import place, status_name
from bot.orders.lifecycle import OrderStatus
from bot.orders.service import OrderService
from bot.owner.access import Access
from bot.owner.provider_float import ProviderFloat
from bot.owner.stats import Figures, collect, troubled
from bot.storage.database import Database
from bot.storage.records import Order
from bot.telegram.callback_answer import Answer
from bot.wallet.owner import WalletDesk
from keyboards.callbacks import AdminHoldCb, AdminOrderCb, HoldAction
from keyboards.pickers import Item, buttons

TOP_USERS = 30
USAGE_EXAMPLE = "<code>123456789</code>"


async def admins_only(
    event: TelegramObject, access: Access, event_from_user: User | None = None
) -> bool:
    # A coroutine on purpose: aiogram runs a plain function filter in a worker thread.
    return event_from_user is not None and access.is_admin(event_from_user.id)


def _target(command: CommandObject) -> int | None:
    text = (command.args or "").strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) < 20 else None


async def on_allow(message: Message, command: CommandObject, access: Access) -> None:
    target = _target(command)
    if target is None:
        await message.answer(_("Usage: /allow {example}").format(example=USAGE_EXAMPLE))
        return
    await access.grant(message.from_user.id, target)  # type: ignore[union-attr]
    await message.answer(_("✅ User <code>{id}</code> may buy numbers now.").format(id=target))
    # Someone who never started the bot cannot be told; the grant stands all the same.
    with suppress(TelegramAPIError):
        await message.bot.send_message(target, _("✅ You can buy numbers now: /start"))  # type: ignore[union-attr]


async def on_deny(message: Message, command: CommandObject, access: Access) -> None:
    target = _target(command)
    if target is None:
        await message.answer(_("Usage: /deny {example}").format(example=USAGE_EXAMPLE))
        return
    if access.is_admin(target):
        await message.answer(_("Admins always may buy; remove the id from ADMIN_IDS instead."))
        return
    await access.revoke(message.from_user.id, target)  # type: ignore[union-attr]
    await message.answer(
        _("⛔ User <code>{id}</code> may no longer buy numbers.").format(id=target)
    )


def figures_line(figures: Figures, currency: str, *, wallet: bool = False) -> str:
    line = _(
        "{orders} · codes {with_code} ({rate:.0%}) · spent {spend} · refunded {refunded} · "
        "active {active}"
    ).format(
        orders=ngettext("{count} order", "{count} orders", figures.orders).format(
            count=figures.orders
        ),
        with_code=figures.with_code,
        rate=figures.success_rate,
        spend=format_money(figures.spend, currency),
        refunded=format_money(figures.refunded, currency),
        active=figures.active,
    )
    if wallet:
        line += " · " + _("revenue {revenue} · provider cost {cost} · margin {margin}").format(
            revenue=format_money(figures.revenue, currency),
            cost=format_money(figures.provider_cost, currency),
            margin=format_money(figures.margin, currency),
        )
    return line


async def on_stats(
    message: Message, db: Database, provider_float: ProviderFloat, settings: Settings
) -> None:
    stats = await collect(db)
    currency = settings.currency
    balance = await provider_float.balance()
    lines = [
        _("📊 <b>Statistics</b>"),
        _("SMS-man balance: {balance}").format(
            balance=format_money(balance, currency) if balance is not None else "—"
        ),
        _("Total: {figures}").format(
            figures=figures_line(stats.total, currency, wallet=settings.wallet)
        ),
    ]
    ranked = sorted(stats.users.items(), key=lambda item: item[1].spend, reverse=True)
    for user_id, figures in ranked[:TOP_USERS]:
        line = figures_line(figures, currency, wallet=settings.wallet)
        lines.append(f"👤 <code>{user_id}</code>: {line}")
    if len(ranked) > TOP_USERS:
        lines.append(_("…and {count} more people.").format(count=len(ranked) - TOP_USERS))
    await message.answer("\n".join(lines))


def troubled_line(order: Order, locale: str) -> str:
    if order.is_open:
        why = _("stuck since its deadline")
    elif order.status is OrderStatus.LOST:
        why = _("not confirmed by SMS-man: {reason}").format(reason=order.failure or "?")
    elif order.status is OrderStatus.FAILED:
        why = _("failed: {reason}").format(reason=order.failure or "?")
    else:
        why = status_name(order.status)
    if order.delivery_note is not None:
        why += " · " + _("code not delivered: {reason}").format(reason=order.delivery_note)
    if order.status is OrderStatus.LOST and order.paid is not None:
        why += " · " + _("wallet charge {paid}").format(
            paid=format_money(order.paid, order.currency)
        )
    # Reasons come from SMS-man and Telegram: text, not markup.
    return (
        f"#{order.id} · <code>{order.user_id}</code> · {place(order, locale)} · {html.quote(why)}"
    )


async def on_orders(
    message: Message, db: Database, desk: WalletDesk, clock: Clock, i18n: I18n
) -> None:
    now = clock()
    found = await troubled(db, now, desk.held)
    if not found:
        await message.answer(_("✅ No stuck or failed orders."))
        return
    lines = [_("🧯 Orders that need a look:")]
    lines += [troubled_line(order, i18n.current_locale) for order in found[-20:]]
    retry = [
        Item(_("🔄 Retry order #{id}").format(id=order.id), AdminOrderCb(order=order.id))
        for order in found[-20:]
        if order.is_open
    ]
    for order in found[-20:]:
        if await desk.held(order):
            retry += [
                Item(
                    _("↩️ Give order #{id}'s charge back").format(id=order.id),
                    AdminHoldCb(order=order.id, action=HoldAction.REFUND),
                ),
                Item(
                    _("✔️ Keep order #{id}'s charge").format(id=order.id),
                    AdminHoldCb(order=order.id, action=HoldAction.KEEP),
                ),
            ]
    await message.answer("\n".join(lines), reply_markup=buttons(retry) if retry else None)


async def on_retry_order(
    query: CallbackQuery, callback_data: AdminOrderCb, orders: OrderService, answer: Answer
) -> None:
    await answer(_("🔄 Retrying…"))
    await orders.poll(callback_data.order)
    order = await orders.peek(callback_data.order)
    status = status_name(order.status) if order else "?"
    await query.bot.send_message(  # type: ignore[union-attr]
        query.from_user.id,
        _("Order #{id} is now: {status}").format(id=callback_data.order, status=status),
    )


def build_router() -> Router:
    router = Router(name="admin")
    router.message.filter(admins_only)
    router.callback_query.filter(admins_only)
    router.message.register(on_allow, Command("allow"))
    router.message.register(on_deny, Command("deny"))
    router.message.register(on_stats, Command("stats"))
    router.message.register(on_orders, Command("orders"))
    router.callback_query.register(on_retry_order, AdminOrderCb.filter())
    return router
