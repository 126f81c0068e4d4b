"""Paginated pickers: items in columns, then ‹ page › navigation, extra buttons and Back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from keyboards.callbacks import NoopCb


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    callback: CallbackData
    # Made with the item: a picker's items are kept across page flips, and so is each button.
    button: InlineKeyboardButton = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        button = InlineKeyboardButton(text=self.text, callback_data=self.callback.pack())
        object.__setattr__(self, "button", button)


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


def _button(text: str, callback: CallbackData) -> InlineKeyboardButton:
    return _shared_button(text, callback.pack())


@lru_cache(maxsize=512)
def _shared_button(text: str, data: str) -> InlineKeyboardButton:
    """Page arrows and Back recur on every flip; a button is immutable, so one serves them all."""
    return InlineKeyboardButton(text=text, callback_data=data)


def picker(
    page: Page,
    *,
    to_page: Callable[[int], CallbackData],
    back: CallbackData,
    columns: int = 2,
    extra: Sequence[Item] = (),
) -> InlineKeyboardMarkup:
    # Built row by row rather than with InlineKeyboardBuilder, which copies the whole keyboard
    # on every added button: on a page flip that was the bot's largest single cost.
    items = [item.button for item in page.items]
    rows = [items[i : i + columns] for i in range(0, len(items), columns)]
    rows += _navigation(page, to_page)
    rows += [[item.button] for item in extra]
    rows.append([_button(_("« Back"), back)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _navigation(
    page: Page, to_page: Callable[[int], CallbackData]
) -> list[list[InlineKeyboardButton]]:
    """‹ 2/7 ›, or nothing for a list of one page."""
    if page.count <= 1:
        return []
    nav = []
    if page.number > 0:
        nav.append(_button("‹", to_page(page.number - 1)))
    nav.append(_button(f"{page.number + 1}/{page.count}", NoopCb()))
    if page.number < page.count - 1:
        nav.append(_button("›", to_page(page.number + 1)))
    return [nav]


def paged(page: Page, *, to_page: Callable[[int], CallbackData]) -> InlineKeyboardMarkup | None:
    """A page of a long message: its buttons in a column, then ‹ page ›; none for a short
    message without buttons."""
    rows = [[item.button] for item in page.items] + _navigation(page, to_page)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def buttons(items: Sequence[Item], *, back: CallbackData | None = None) -> InlineKeyboardMarkup:
    """A plain column of buttons, e.g. a screen's actions or a few suggestions."""
    rows = [[item.button] for item in items]
    if back is not None:
        rows.append([_button(_("« Back"), back)])
    return InlineKeyboardMarkup(inline_keyboard=rows)
