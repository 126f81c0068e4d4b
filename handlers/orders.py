"""A person's numbers: the list of active orders, one order's card, and Cancel."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.callback_answer import Answer
from bot.cards import card_text
from bot.clock import Clock
from bot.orders import OrderService, Outcome
from bot.storage import Database, Order
from handlers.render import show
from keyboards.callbacks import MenuAction, MenuCb, OrderAction, OrderCb
from keyboards.orders import card_keyboard, numbers_keyboard


async def show_card(
    query: CallbackQuery, order: Order, db: Database, clock: Clock, locale: str
) -> None:
    codes = await db.order_codes(order.id)
    await show(query, card_text(order, codes, clock(), locale), card_keyboard(order))


async def on_my_numbers(query: CallbackQuery, orders: OrderService) -> None:
    active = await orders.open_orders(query.from_user.id)
    text = _("📱 Your active numbers:") if active else _("You have no active numbers.")
    await show(query, text, numbers_keyboard(active))


async def on_show(
    query: CallbackQuery,
    callback_data: OrderCb,
    orders: OrderService,
    db: Database,
    clock: Clock,
    i18n: I18n,
    answer: Answer,
) -> None:
    order = await orders.get(query.from_user.id, callback_data.order)
    if order is None:
        await answer(_("This order is not yours or no longer exists."), show_alert=True)
        return
    await show_card(query, order, db, clock, i18n.current_locale)


async def on_cancel(
    query: CallbackQuery,
    callback_data: OrderCb,
    orders: OrderService,
    db: Database,
    clock: Clock,
    i18n: I18n,
    answer: Answer,
) -> None:
    if await orders.get(query.from_user.id, callback_data.order) is None:
        await answer(_("This order is not yours or no longer exists."), show_alert=True)
        return
    # Rejecting at the provider may take a moment: stop the spinner first.
    await answer(_("⏳ Cancelling…"))
    result = await orders.cancel(query.from_user.id, callback_data.order)
    if result.order is None:
        return
    if result.outcome is Outcome.HAS_CODE:
        await query.bot.send_message(  # type: ignore[union-attr]
            query.from_user.id, _("A code has already arrived, so this number cannot be cancelled.")
        )
    await show_card(query, result.order, db, clock, i18n.current_locale)


def build_router() -> Router:
    router = Router(name="orders")
    router.callback_query.register(on_my_numbers, MenuCb.filter(F.action == MenuAction.MY_NUMBERS))
    router.callback_query.register(on_show, OrderCb.filter(F.action == OrderAction.SHOW))
    router.callback_query.register(on_cancel, OrderCb.filter(F.action == OrderAction.CANCEL))
    return router
