"""Buttons of an order card and of the list of a person's numbers."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.catalog.countries import country_name, flag, format_phone
from bot.orders.lifecycle import RETRYABLE, OrderStatus
from bot.storage.records import Order
from keyboards.callbacks import (
    AgainCb,
    HistoryCb,
    MenuAction,
    MenuCb,
    OrderAction,
    OrderCb,
    PriceCb,
)
from keyboards.menus import add_menu_button
from keyboards.pickers import Item, Page, picker


def card_keyboard(order: Order) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    actions: list[tuple[str, OrderAction]] = []
    if order.status is OrderStatus.ACTIVE:
        actions = [
            (_("❌ Cancel"), OrderAction.CANCEL),
            (_("🚫 Number already used or banned"), OrderAction.USED),
        ]
    elif order.status is OrderStatus.CODE_RECEIVED:
        actions = [(_("📩 Another SMS"), OrderAction.ANOTHER), (_("✅ Done"), OrderAction.DONE)]
    elif order.status is OrderStatus.WAITING_AGAIN:
        actions = [(_("✅ Done"), OrderAction.DONE)]
    elif order.status in RETRYABLE:
        actions = [(_("🔄 Try again"), OrderAction.RETRY)]
    for text, action in actions:
        builder.button(text=text, callback_data=OrderCb(order=order.id, action=action))
    if not order.is_open:
        # Today's price for the same country and app, a fresh quote and a new number; for a
        # LOST order, which may hold a number already, a deliberate second purchase.
        builder.button(text=_("🔁 Buy again"), callback_data=AgainCb(order=order.id))
    builder.button(text=_("📱 My numbers"), callback_data=MenuCb(action=MenuAction.MY_NUMBERS))
    add_menu_button(builder)
    builder.adjust(1)
    return builder.as_markup()


def numbers_keyboard(orders: list[Order]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for order in orders:
        number = format_phone(order.number, order.country_iso) if order.number else "…"
        builder.button(
            text=f"{flag(order.country_iso)} {order.app_title} · {number}",
            callback_data=OrderCb(order=order.id, action=OrderAction.SHOW),
        )
    builder.button(text=_("🛒 Buy a number"), callback_data=MenuCb(action=MenuAction.BUY))
    builder.button(text=_("📜 History"), callback_data=HistoryCb(page=0))
    add_menu_button(builder)
    builder.adjust(1)
    return builder.as_markup()


def history_keyboard(
    past: list[Order], *, page: int, pages: int, locale: str
) -> InlineKeyboardMarkup:
    """Buy again for each country and app on this page of the history (once each), then the
    pages and Back."""
    pairs: dict[tuple[int, int], Order] = {}
    for order in past:
        pairs.setdefault((order.country_id, order.application_id), order)
    again = [
        Item(
            f"🔁 {o.app_title} · {flag(o.country_iso)} "
            f"{country_name(o.country_iso, o.country_title, locale)}",
            PriceCb(country=country_id, app=app_id),
        )
        for (country_id, app_id), o in pairs.items()
    ]
    return picker(
        Page(again, min(page, pages - 1), pages),
        to_page=lambda p: HistoryCb(page=p),
        back=MenuCb(action=MenuAction.MY_NUMBERS),
        columns=1,
    )
