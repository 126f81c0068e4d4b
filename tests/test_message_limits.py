"""Pages of a long list: each within Telegram's limits, together every line once and in order."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.telegram.message_limits import (
    MAX_BUTTONS,
    MAX_TEXT,
    NAV_BUTTONS,
    clip,
    cut_pages,
    utf16_length,
)

# Lines of letters one or two UTF-16 units wide, each short enough to fit a page alone.
lines = st.lists(st.text(alphabet=st.sampled_from("aя中😀&<"), max_size=1500), max_size=60).flatmap(
    lambda texts: st.tuples(
        st.just(texts), st.lists(st.integers(0, 40), min_size=len(texts), max_size=len(texts))
    )
)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(header=st.text(alphabet="b😀", max_size=300), listed=lines)
def test_pages_fit_and_hold_every_line_once(
    header: str, listed: tuple[list[str], list[int]]
) -> None:
    texts, buttons = listed
    pages = cut_pages(header, texts, buttons)
    assert pages, "at least one page, even of nothing"
    assert [i for page in pages for i in page] == list(range(len(texts)))
    for page in pages:
        text = "\n".join([header, *(texts[i] for i in page)])
        assert utf16_length(text) <= MAX_TEXT
        assert sum(buttons[i] for i in page) + NAV_BUTTONS <= MAX_BUTTONS
    # Greedy: a page ends only where the next line would not have fitted on it.
    for page, after in itertools.pairwise(pages):
        grown = "\n".join([header, *(texts[i] for i in [*page, after.start])])
        pressed = sum(buttons[i] for i in [*page, after.start]) + NAV_BUTTONS
        assert utf16_length(grown) > MAX_TEXT or pressed > MAX_BUTTONS


def test_utf16_length_counts_as_telegram_does() -> None:
    assert utf16_length("aя中") == 3
    assert utf16_length("😀𝕋") == 4, "outside the BMP: two units each"


def test_clip_says_it_cut() -> None:
    assert clip("Telegram", 8) == "Telegram"
    assert clip("Telegram Messenger", 8) == "Telegra…"
