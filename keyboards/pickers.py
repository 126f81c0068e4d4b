"""Paginated pickers: items in columns, then ‹ page › navigation, extra buttons and Back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.callbacks import NoopCb


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    callback: CallbackData


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: `number` is clamped into range, counting from 0."""

    items: Sequence[Item]
    number: int
    count: int


def paginate(items: Sequence[Item], page: int, per_page: int) -> Page:
    count = max(1, -(-len(items) // per_page))
    number = min(max(page, 0), count - 1)
    return Page(items[number * per_page : (number + 1) * per_page], number, count)


def picker(
    page: Page,
    *,
    to_page: Callable[[int], CallbackData],
    back: CallbackData,
    columns: int = 2,
    extra: Sequence[Item] = (),
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for item in page.items:
        builder.button(text=item.text, callback_data=item.callback)
    rows = [columns] * (-(-len(page.items) // columns))
    if page.count > 1:
        nav = 1
        if page.number > 0:
            builder.button(text="‹", callback_data=to_page(page.number - 1))
            nav += 1
        builder.button(text=f"{page.number + 1}/{page.count}", callback_data=NoopCb())
        if page.number < page.count - 1:
            builder.button(text="›", callback_data=to_page(page.number + 1))
            nav += 1
        rows.append(nav)
    for item in extra:
        builder.button(text=item.text, callback_data=item.callback)
        rows.append(1)
    builder.button(text=_("« Back"), callback_data=back)
    rows.append(1)
    builder.adjust(*rows)
    return builder.as_markup()


def buttons(items: Sequence[Item], *, back: CallbackData | None = None) -> InlineKeyboardMarkup:
    """A plain column of buttons, e.g. a screen's actions or a few suggestions."""
    builder = InlineKeyboardBuilder()
    for item in items:
        builder.button(text=item.text, callback_data=item.callback)
    if back is not None:
        builder.button(text=_("« Back"), callback_data=back)
    builder.adjust(1)
    return builder.as_markup()
