"""A picker's kept rows with a person's recent choices and the popular moved to the top."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aiogram.utils.i18n import I18n

from bot.catalog.search import Searchable
from handlers.listings import RECENT, Listing, Rows, mine
from keyboards.callbacks import AppsCb, CountriesCb, MenuAction, MenuCb
from keyboards.pickers import Item


def rows(ids: list[int]) -> Rows:
    return Rows(
        [Item(f"country {i}", AppsCb(country=i, page=0)) for i in ids],
        [Searchable(i, (f"country {i}",)) for i in ids],
    )


def order(items: Sequence[Item]) -> list[int]:
    return [AppsCb.unpack(item.button.callback_data or "").country for item in items]


def test_first_rows_come_first_once_and_the_rest_keep_their_order() -> None:
    kept = rows([10, 20, 30, 40, 50])
    moved = kept.first([40, 40, 99, 20], 8)
    assert order(moved.items) == [40, 20, 10, 30, 50]
    assert [key.key for key in moved.keys] == order(moved.items), "search keys stay parallel"
    assert order(kept.items) == [10, 20, 30, 40, 50], "the kept rows are not reordered"


def test_no_more_first_rows_than_the_limit() -> None:
    items = rows(list(range(1, 11))).first([10, 9, 8, 7, 6], 3).items
    assert order(items)[:3] == [10, 9, 8]
    assert order(items)[3:] == sorted(order(items)[3:])


def test_at_most_a_few_recent_choices_are_a_persons_own() -> None:
    kept = rows(list(range(1, 11)))
    assert mine(kept, [10, 99, 9, 10, 8, 7]) == [10, 9, 8][:RECENT]


def test_without_first_rows_the_kept_rows_are_shown_as_they_are() -> None:
    kept = rows([1, 2, 3])
    for first in ([], [99]):
        shown = kept.first(first, 8)
        assert shown is kept


def test_an_arrangement_is_kept_for_the_next_flip() -> None:
    kept = rows([1, 2, 3, 4])
    assert kept.first([3, 1], 8) is kept.first([3, 99, 1], 8)
    assert kept.first([1, 3], 8) is not kept.first([3, 1], 8)


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
        text, first = listing(kept.first([], 2)).page(1)
        _text, again = listing(kept).page(1)
        _text, other = listing(kept).page(2)
        _text, with_recent = listing(kept.first([5], 2)).page(1)
    assert "2" in text
    assert again is first, "the same page of the same rows"
    assert other is not first
    assert with_recent is not first, "a person's own order is drawn for them"
    assert [b.callback_data for b in first.inline_keyboard[0]] == ["a:3:0", "a:4:0"]
    assert [b.text for b in first.inline_keyboard[-1]] == ["« Назад"]
