"""What one Telegram message may hold, and long lists cut into pages that fit it."""

from __future__ import annotations

from collections.abc import Sequence

# Telegram's limits on a message's text and on the buttons of its inline keyboard.
MAX_TEXT = 4096
MAX_BUTTONS = 100
# ‹ 2/7 ›: the row a page adds to its keyboard.
NAV_BUTTONS = 3


def utf16_length(text: str) -> int:
    """Telegram's own measure of a text (entity offsets count the same way): an emoji outside
    the BMP counts two, and no count of the same text is larger."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, longest: int) -> str:
    """`text` cut to `longest` characters, an ellipsis saying it was."""
    return text if len(text) <= longest else text[: longest - 1] + "…"


def cut_pages(
    header: str, lines: Sequence[str], buttons: Sequence[int] | None = None
) -> list[range]:
    """Consecutive runs of `lines` that fit one message each, below `header` and a newline
    apiece: the raw HTML within MAX_TEXT UTF-16 units (tags and escapes only ever add to what
    Telegram counts of the text it shows) and the lines' `buttons` with the page row within
    MAX_BUTTONS. At least one page, maybe empty; a line too long for any page gets one alone,
    so callers bound what goes into a line."""
    room = MAX_TEXT - utf16_length(header)
    pages: list[range] = []
    start, used, pressed = 0, 0, 0
    for index, line in enumerate(lines):
        length = utf16_length(line) + 1
        count = buttons[index] if buttons is not None else 0
        full = used + length > room or pressed + count > MAX_BUTTONS - NAV_BUTTONS
        if full and index > start:
            pages.append(range(start, index))
            start, used, pressed = index, 0, 0
        used += length
        pressed += count
    pages.append(range(start, len(lines)))
    return pages
