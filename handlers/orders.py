"""A person's numbers: active orders, one order's card and its actions, and the history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiogram import F, Router, html
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.money import format_money
from bot.orders.cards import card_of, place
from bot.orders.lifecycle import OrderStatus, Tell
from bot.orders.service import OrderService, Result
from bot.storage.database import Database
from bot.storage.records import Order
from bot.telegram.callback_answer import Answer
from handlers.errors import on_stale_button
from handlers.purchase import refusal_text
from handlers.render import show
from keyboards.callbacks import HistoryCb, MenuAction, MenuCb, OrderAction, OrderCb
from keyboards.orders import card_keyboard, history_keyboard, numbers_keyboard

HISTORY_PER_PAGE = 5
STATUS_MARKS = {
    OrderStatus.CLOSED: "✔️",
    OrderStatus.CANCELLED: "❌",
    OrderStatus.EXPIRED: "⌛",
}

OrderAct = Callable[[int, int], Awaitable[Result]]


async def show_card(
    query: CallbackQuery,
    order: Order,
    db: Database,
    clock: Clock,
    locale: str,
    *,
    note: str | None = None,
) -> None:
    """The order's card; a `note` (why the tap did not go through) is shown above it."""
    text = await card_of(db, order, clock(), locale)
    await show(query, f"{note}\n\n{text}" if note else text, card_keyboard(order))


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


async def act_on_order(
    query: CallbackQuery,
    order_id: int,
    act: OrderAct,
    working: str,
    *,
    orders: OrderService,
    db: Database,
    clock: Clock,
    locale: str,
    answer: Answer,
) -> None:
    """Check ownership, stop the spinner, ask the provider, then redraw the card."""
    if await orders.get(query.from_user.id, order_id) is None:
        await answer(_("This order is not yours or no longer exists."), show_alert=True)
        return
    await answer(working)
    result = await act(query.from_user.id, order_id)
    if result.order is None:
        return
    if result.tell is Tell.HAS_CODE:
        await query.bot.send_message(  # type: ignore[union-attr]
            query.from_user.id, _("A code has already arrived, so this number cannot be cancelled.")
        )
    note = None
    if result.tell is Tell.TRY_LATER:
        note = _("📡 SMS-man is not answering right now. Please try again in a moment.")
    elif result.tell is Tell.LIMIT and result.refusal is not None:
        note = refusal_text(result.refusal, clock())
    await show_card(query, result.order, db, clock, locale, note=note)


async def on_order_action(
    query: CallbackQuery,
    callback_data: OrderCb,
    orders: OrderService,
    db: Database,
    clock: Clock,
    i18n: I18n,
    answer: Answer,
) -> None:
    acts: dict[OrderAction, tuple[OrderAct, str]] = {
        OrderAction.CANCEL: (orders.cancel, _("⏳ Cancelling…")),
        OrderAction.USED: (orders.report_used, _("⏳ Returning the number…")),
        OrderAction.ANOTHER: (orders.another_sms, _("📩 Waiting for another SMS…")),
        OrderAction.DONE: (orders.done, _("✅ Closing the order…")),
    }
    act, working = acts[callback_data.action]
    await act_on_order(
        query,
        callback_data.order,
        act,
        working,
        orders=orders,
        db=db,
        clock=clock,
        locale=i18n.current_locale,
        answer=answer,
    )


def history_line(order: Order, codes: list[str], locale: str) -> str:
    when = datetime.fromtimestamp(order.created_at, UTC).strftime("%Y-%m-%d %H:%M")
    line = (
        f"{STATUS_MARKS.get(order.status, '•')} {when} · {place(order, locale)} · "
        f"{format_money(order.charged, order.currency)}"
    )
    if codes:
        line += "\n    🔑 " + ", ".join(f"<code>{html.quote(c)}</code>" for c in codes)
    return line


async def on_history(
    query: CallbackQuery,
    callback_data: HistoryCb,
    orders: OrderService,
    db: Database,
    settings: Settings,
    i18n: I18n,
    answer: Answer,
) -> None:
    page = callback_data.page
    past, total = await orders.history(query.from_user.id, page, HISTORY_PER_PAGE)
    pages = max(1, -(-total // HISTORY_PER_PAGE))
    if page >= pages:
        # No button of ours points past the last page.
        await on_stale_button(query, answer, db, settings, i18n)
        return
    lines = [_("📜 Your past numbers (times in UTC):")]
    for order in past:
        codes = [c.code for c in await db.order_codes(order.id)]
        lines.append(history_line(order, codes, i18n.current_locale))
    if not past:
        lines = [_("📜 No past numbers yet.")]
    markup = history_keyboard(past, page=page, pages=pages, locale=i18n.current_locale)
    await show(query, "\n\n".join(lines), markup)


def build_router() -> Router:
    router = Router(name="orders")
    router.callback_query.register(on_my_numbers, MenuCb.filter(F.action == MenuAction.MY_NUMBERS))
    router.callback_query.register(on_show, OrderCb.filter(F.action == OrderAction.SHOW))
    router.callback_query.register(
        on_order_action,
        OrderCb.filter(
            F.action.in_(
                {OrderAction.CANCEL, OrderAction.USED, OrderAction.ANOTHER, OrderAction.DONE}
            )
        ),
    )
    router.callback_query.register(on_history, HistoryCb.filter())
    return router
