"""A picker's kept rows with a person's recent choices moved to the top."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aiogram.utils.i18n import I18n

from bot.catalog.search import Searchable
from handlers.listings import RECENT, Listing, Rows
from keyboards.callbacks import AppsCb, CountriesCb, MenuAction, MenuCb
from keyboards.pickers import Item


def rows(ids: list[int]) -> Rows:
    return Rows(
        [Item(f"country {i}", AppsCb(country=i, page=0)) for i in ids],
        [Searchable(i, (f"country {i}",)) for i in ids],
    )


def order(items: Sequence[Item]) -> list[int]:
    return [AppsCb.unpack(item.button.callback_data or "").country for item in items]


def test_recent_choices_come_first_and_the_rest_keep_their_order() -> None:
    kept = rows([10, 20, 30, 40, 50])
    moved = kept.recent_first([40, 40, 99, 20])
    assert order(moved.items) == [40, 20, 10, 30, 50]
    assert [key.key for key in moved.keys] == order(moved.items), "search keys stay parallel"
    assert order(kept.items) == [10, 20, 30, 40, 50], "the kept rows are not reordered"


def test_at_most_a_few_recent_choices_move() -> None:
    items = rows(list(range(1, 11))).recent_first([10, 9, 8, 7, 6]).items
    assert order(items)[:RECENT] == [10, 9, 8][:RECENT]
    assert order(items)[RECENT:] == sorted(order(items)[RECENT:])


def test_without_recent_choices_the_kept_rows_are_shown_as_they_are() -> None:
    kept = rows([1, 2, 3])
    shown = kept.recent_first([])
    assert shown.items is kept.items
    assert shown.keys is kept.keys


def listing(shown: Rows) -> Listing:
    return Listing(
        screen="countries",
        title="Choose",
        rows=shown,
        per_page=2,
        to_page=lambda page: CountriesCb(page=page),
        back=MenuCb(action=MenuAction.MAIN),
    )


def test_a_kept_pages_keyboard_is_drawn_once_per_language(locales: Path) -> None:
    i18n = I18n(path=locales, default_locale="en", domain="messages")
    kept = rows([1, 2, 3, 4, 5])
    with i18n.context(), i18n.use_locale("ru"):
        text, first = listing(kept.recent_first([])).page(1)
        _text, again = listing(kept).page(1)
        _text, other = listing(kept).page(2)
        _text, with_recent = listing(kept.recent_first([5])).page(1)
    assert "2" in text
    assert again is first, "the same page of the same rows"
    assert other is not first
    assert with_recent is not first, "a person's own order is drawn for them"
    assert [b.callback_data for b in first.inline_keyboard[0]] == ["a:3:0", "a:4:0"]
    assert [b.text for b in first.inline_keyboard[-1]] == ["« Назад"]
