"""Telegram's clean-up of a bot message's text and entities (after TDLib's fix_formatted_text)."""

from __future__ import annotations

import itertools
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator

from emulators.telegram.html import Entity, sort_key

SPLITTABLE = frozenset({"bold", "italic", "underline", "strikethrough", "spoiler"})
BLOCKQUOTES = frozenset({"blockquote", "expandable_blockquote"})
# Entities whose point is hidden data, so Telegram keeps them over whitespace only.
HIDDEN_DATA = frozenset({"text_link", "text_mention", "custom_emoji", "date_time"})
_BLANK = " \n"
# Characters TDLib deletes outright: \r, U+2028..U+202E (separators, bidi overrides), and
# three combining marks that draw vertical lines.
_DELETED = frozenset("\r\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u0333\u033f\u030a")
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u2800\u3164\u115f\u1160")
_URL_START = re.compile(r"https?://", re.IGNORECASE)


class EmptyTextError(ValueError):
    """The text has nothing visible left once Telegram has cleaned and trimmed it."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _utf16_offsets(text: str) -> list[int]:
    """The UTF-16 offset of each code point, and the text's UTF-16 length last."""
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return offsets


def _end(entity: Entity) -> int:
    return int(entity["offset"]) + int(entity["length"])


def _clean(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    # TDLib only turns tabs into spaces on its slow path, the one taken when there are entities.
    spaced = "\t" if entities else ""
    chars: list[str] = []
    deleted: list[int] = []
    utf16 = 0
    for ch in text:
        if ch in _DELETED:
            deleted.append(utf16)
        elif (ord(ch) < 32 and ch not in "\n\t") or ch == spaced:
            chars.append(" ")
        else:
            chars.append(ch)
        utf16 += 2 if ord(ch) > 0xFFFF else 1
    kept: list[Entity] = []
    for entity in entities:
        start = entity["offset"] - bisect_left(deleted, entity["offset"])
        end = _end(entity) - bisect_left(deleted, _end(entity))
        if end > start:
            kept.append(entity | {"offset": start, "length": end - start})
    return "".join(chars), kept


def _drop_intersecting(entities: list[Entity]) -> list[Entity]:
    kept: list[Entity] = []
    last_end = 0
    for entity in sorted(entities, key=sort_key):
        if entity["offset"] >= last_end:
            kept.append(entity)
            last_end = _end(entity)
    return kept


def _crosses(entity: Entity, quote: Entity) -> bool:
    overlaps = entity["offset"] < _end(quote) and quote["offset"] < _end(entity)
    inside = quote["offset"] <= entity["offset"] and _end(entity) <= _end(quote)
    return overlaps and not inside


def _merge(splittable: list[Entity]) -> list[Entity]:
    merged: list[Entity] = []
    for kind in sorted({e["type"] for e in splittable}):
        current: Entity | None = None
        for entity in sorted((e for e in splittable if e["type"] == kind), key=sort_key):
            # Telegram joins touching ranges of one style too: <b>a</b><b>b</b> is one bold.
            if current is not None and entity["offset"] <= _end(current):
                current["length"] = max(_end(current), _end(entity)) - current["offset"]
                continue
            current = dict(entity)
            merged.append(current)
    return merged


def _split(splittable: list[Entity], others: list[Entity]) -> list[Entity]:
    """Cut styles at every edge of a non-style entity and drop the parts inside a <pre>."""
    cuts = sorted({e["offset"] for e in others} | {_end(e) for e in others})
    pres = [e for e in others if e["type"] == "pre"]
    pieces: list[Entity] = []
    for entity in splittable:
        start, end = entity["offset"], _end(entity)
        bounds = [start, *(c for c in cuts if start < c < end), end]
        for piece_start, piece_end in itertools.pairwise(bounds):
            if not any(p["offset"] <= piece_start and piece_end <= _end(p) for p in pres):
                pieces.append(entity | {"offset": piece_start, "length": piece_end - piece_start})
    return pieces


def _fix(entities: list[Entity]) -> list[Entity]:
    quotes = _drop_intersecting([e for e in entities if e["type"] in BLOCKQUOTES])
    continuous = _drop_intersecting(
        [e for e in entities if e["type"] not in SPLITTABLE | BLOCKQUOTES]
    )
    others = [e for e in continuous if not any(_crosses(e, q) for q in quotes)] + quotes
    styles = _merge([e for e in entities if e["type"] in SPLITTABLE])
    return sorted(_split(styles, others) + others, key=sort_key)


def _drop_blank(text: str, entities: list[Entity]) -> list[Entity]:
    """Drop entities over spaces and newlines only, and move each start past such leading ones."""
    offsets = _utf16_offsets(text)
    kept: list[Entity] = []
    for entity in entities:
        if entity["type"] in HIDDEN_DATA:
            kept.append(entity)
            continue
        first = bisect_left(offsets, entity["offset"])
        last = bisect_left(offsets, _end(entity))
        while first < last and text[first] in _BLANK:
            first += 1
        if first < last:
            kept.append(
                entity | {"offset": offsets[first], "length": _end(entity) - offsets[first]}
            )
    return kept


def _trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    text = text.rstrip(_BLANK)
    size = utf16_len(text)
    clipped = [
        entity | {"length": min(_end(entity), size) - entity["offset"]}
        for entity in entities
        if entity["offset"] < size
    ]
    first_entity = min((e["offset"] for e in clipped), default=size)
    lead = len(text) - len(text.lstrip(_BLANK))
    lead = min(lead, first_entity)
    return text[lead:], [e | {"offset": e["offset"] - lead} for e in clipped]


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_name(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _name_end(text: str, i: int) -> int:
    while i < len(text) and _is_name(text[i]):
        i += 1
    return i


def _bot_commands(text: str) -> Iterator[tuple[int, int]]:
    for match in re.finditer("/", text):
        i = match.start()
        if i > 0 and (_is_word(text[i - 1]) or text[i - 1] in "/<>"):
            continue
        end = _name_end(text, i + 1)
        if not 1 <= end - i - 1 <= 64:
            continue
        if end < len(text) and text[end] == "@":
            bot_end = _name_end(text, end + 1)
            if not 3 <= bot_end - end - 1 <= 32:
                continue
            end = bot_end
        if end < len(text) and (_is_word(text[end]) or text[end] in "/<>"):
            continue
        yield i, end


def _mentions(text: str) -> Iterator[tuple[int, int]]:
    for match in re.finditer("@", text):
        i = match.start()
        if i > 0 and _is_word(text[i - 1]):
            continue
        end = _name_end(text, i + 1)
        # TDLib matches 2-32 characters, then keeps those of 4 or more.
        if not 4 <= end - i - 1 <= 32 or (end < len(text) and _is_word(text[end])):
            continue
        yield i, end


def _is_hashtag_letter(ch: str) -> bool:
    category = unicodedata.category(ch)
    return (
        ch in "_\u200c\xb7" or "\u0d80" <= ch <= "\u0dff" or category[0] == "L" or category == "Nd"
    )


def _hashtags(text: str) -> Iterator[tuple[int, int]]:
    for match in re.finditer("#", text):
        i = match.start()
        if i > 0 and _is_hashtag_letter(text[i - 1]):
            continue
        end = i + 1
        while end < len(text) and _is_hashtag_letter(text[end]):
            end += 1
        body = text[i + 1 : end]
        if not body or (end < len(text) and text[end] == "#"):
            continue
        if any(unicodedata.category(ch)[0] == "L" for ch in body):
            yield i, min(end, i + 1 + 256)


def _urls(text: str) -> Iterator[tuple[int, int]]:
    for match in _URL_START.finditer(text):
        i = match.start()
        if i > 0 and _is_word(text[i - 1]):
            continue
        end = match.end()
        while end < len(text) and not text[end].isspace() and text[end] not in "<>\"'":
            end += 1
        while end > match.end() and (
            text[end - 1] in ".,:;!?"
            or (text[end - 1] == ")" and text[i:end].count("(") < text[i:end].count(")"))
        ):
            end -= 1
        host = text[match.end() : end].split("/")[0].split(":")[0]
        if "." in host.strip(".") or host.lower() == "localhost":
            yield i, end


def find_entities(text: str) -> list[Entity]:
    """The entities Telegram finds on its own: bot commands, mentions, hashtags and http(s) URLs.

    Bare domains, e-mails, cashtags, phone and card numbers are not detected here.
    """
    offsets = _utf16_offsets(text)
    found: list[Entity] = []
    for kind, finder in (
        ("bot_command", _bot_commands),
        ("mention", _mentions),
        ("hashtag", _hashtags),
        ("url", _urls),
    ):
        for start, end in finder(text):
            found.append(
                {"type": kind, "offset": offsets[start], "length": offsets[end] - offsets[start]}
            )
    return _drop_intersecting(found)


def normalize(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """The text and entities Telegram stores for a bot's message, or EmptyTextError."""
    text, entities = _clean(text, entities)
    entities = _drop_blank(text, _fix(entities))
    if not text.strip(_BLANK):
        raise EmptyTextError(text)
    text, entities = _trim(text, entities)
    if all(ch.isspace() or ch in _INVISIBLE for ch in text):
        raise EmptyTextError(text)
    taken = [e for e in entities if e["type"] not in SPLITTABLE]
    quotes = [e for e in taken if e["type"] in BLOCKQUOTES]
    for entity in find_entities(text):
        clashes = any(
            entity["offset"] < _end(other) and other["offset"] < _end(entity)
            for other in taken
            if other["type"] not in BLOCKQUOTES
        )
        if not clashes and not any(_crosses(entity, q) for q in quotes):
            entities.append(entity)
    return text, sorted(_drop_blank(text, _fix(entities)), key=sort_key)
