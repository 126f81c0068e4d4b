"""Telegram's HTML parse mode as TDLib's parse_html runs it: plain text, entities, errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]
UserLookup = Callable[[int], dict[str, Any] | None]

_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED = {b"lt": ord("<"), b"gt": ord(">"), b"amp": ord("&"), b"quot": ord('"')}
# TDLib's td::is_space counts NUL, which is also how its parser sees the end of the text.
_SPACES = frozenset(b" \t\r\n\0\v\f")
_LT, _GT, _AMP, _SLASH, _EQ = b"<", b">", b"&", b"/", b"="
_NAME_STOPS = frozenset(b"=>/\"'")
_DIGITS = frozenset(b"0123456789")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_USER_LINK = re.compile(r"tg:(?://)?user\?(?:.*&)?id=(\d+)(?:&.*)?", re.IGNORECASE)
_MAX_INT64 = 2**63 - 1
# The Bot API's date-time entity formatting: relative, or day of week, date and time parts.
_DATE_TIME_FORMAT = re.compile(r"r|w?[dD]?[tT]?")

# Sort order of Telegram's sort_entities: offset, then longer first, then this priority.
TYPE_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}


class HtmlParseError(ValueError):
    """Telegram's detail for a malformed text; the Bot API prefixes "can't parse entities: "."""


def sort_key(entity: Entity) -> tuple[int, int, int]:
    return entity["offset"], -entity["length"], TYPE_PRIORITY.get(entity["type"], 50)


def check_url(url: str) -> str | None:
    """The link Telegram keeps for a text_link, or None where it silently drops the entity.

    An approximation of TDLib's check_link: http(s) and tg links only, a bare host gets
    "http://", and an empty path becomes "/", as Telegram shows links back to the bot.
    """
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    scheme = scheme.lower()
    if scheme == "tg":
        return f"tg://{rest}" if rest else None
    if scheme not in ("http", "https"):
        return None
    host_end = min((rest.find(c) for c in "/?#" if c in rest), default=len(rest))
    host = rest[:host_end]
    if not host or ("." not in host and host.split(":")[0].lower() != "localhost"):
        return None
    path = rest[host_end:]
    return f"{scheme}://{host}{path if path.startswith('/') else '/' + path}"


def _decode_entity(data: bytes, pos: int) -> tuple[int, int]:
    """(code point, position after the reference), or (0, pos) for a lone '&', kept literally."""
    end = pos + 1
    if data[end : end + 1] == b"#":
        end += 1
        base, digits = 10, _DIGITS
        if data[end : end + 1] == b"x":
            end += 1
            base, digits = 16, _HEX_DIGITS
        start = end
        while data[end : end + 1] and data[end] in digits:
            end += 1
        code = int(data[start:end], base) if end > start else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while data[end : end + 1].isalpha():
            end += 1
        code = _NAMED.get(data[pos + 1 : end], 0)
        if code == 0:
            return 0, pos
    return code, end + 1 if data[end : end + 1] == b";" else end


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int
    result_pos: int


class _Parser:
    def __init__(self, text: str, lookup_user: UserLookup) -> None:
        self._data = text.encode()
        self._lookup_user = lookup_user
        self._i = 0
        self._result = bytearray()
        self._utf16 = 0
        self._entities: list[Entity] = []
        self._nested: list[_Open] = []
        self._decoded_surrogate = False

    def _at(self, i: int) -> bytes:
        return self._data[i : i + 1] or b"\0"

    def _skip_spaces(self, i: int) -> int:
        while self._at(i) != b"\0" and self._at(i)[0] in _SPACES:
            i += 1
        return i

    def parse(self) -> tuple[str, list[Entity]]:
        while self._i < len(self._data):
            c = self._data[self._i]
            if c == _AMP[0]:
                code, end = _decode_entity(self._data, self._i)
                if code:
                    self._decoded_surrogate |= 0xD800 <= code <= 0xDFFF
                    self._result += chr(code).encode("utf-8", "surrogatepass")
                    self._utf16 += 2 if code > 0xFFFF else 1
                    self._i = end
                    continue
            if c != _LT[0]:
                if c & 0xC0 != 0x80:
                    self._utf16 += 2 if c >= 0xF0 else 1
                self._result.append(c)
                self._i += 1
                continue
            begin = self._i
            self._i += 1
            if self._at(self._i) == _SLASH:
                self._end_tag(begin)
            else:
                self._nested.append(self._start_tag(begin))
            self._i += 1
        if self._nested:
            tag = self._nested[-1].tag
            raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        if self._decoded_surrogate:
            raise HtmlParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        for entity in self._entities:
            if entity["type"] == "code":
                entity.pop("language", None)
        return self._result.decode(), sorted(self._entities, key=sort_key)

    def _start_tag(self, begin: int) -> _Open:
        i = self._i
        while self._at(i)[0] not in _SPACES and self._at(i) != _GT:
            i += 1
        if self._at(i) == b"\0":
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        tag = self._data[begin + 1 : i].lower().decode(errors="replace")
        if tag not in _TAGS:
            raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        while self._at(i) != _GT:
            i = self._skip_spaces(i)
            if self._at(i) == _GT:
                break
            name_begin = i
            while self._at(i)[0] not in _SPACES and self._at(i)[0] not in _NAME_STOPS:
                i += 1
            name = self._data[name_begin:i].decode(errors="replace")
            if not name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                )
            i = self._skip_spaces(i)
            if self._at(i) != _EQ:
                if self._at(i) == b"\0":
                    raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if tag == "blockquote" and name == "expandable":
                    argument = "1"
                continue
            i = self._skip_spaces(i + 1)
            if self._at(i) == b"\0":
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self._attribute_value(i)
            if self._at(i) == b"\0":
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            argument = _argument(tag, name, value, argument)
        if tag == "span" and argument != "spoiler":
            raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self._i = i
        return _Open(tag, argument, self._utf16, len(self._result))

    def _attribute_value(self, i: int) -> tuple[str, int]:
        quote = self._at(i)
        if quote not in (b"'", b'"'):
            token_begin = i
            while self._at(i).isalnum() or self._at(i) in (b".", b"-"):
                i += 1
            if self._at(i)[0] not in _SPACES and self._at(i) != _GT:
                raise HtmlParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return self._data[token_begin:i].lower().decode(), i
        i += 1
        value = bytearray()
        while self._at(i) != quote and self._at(i) != b"\0":
            if self._at(i) == _AMP:
                code, end = _decode_entity(self._data, i)
                if code:
                    value += chr(code).encode("utf-8", "surrogatepass")
                    i = end
                    continue
            value += self._at(i)
            i += 1
        if self._at(i) == quote:
            i += 1
        return value.decode(errors="replace"), i

    def _end_tag(self, begin: int) -> None:
        if not self._nested:
            raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
        i = self._i
        while self._at(i)[0] not in _SPACES and self._at(i) != _GT:
            i += 1
        end_tag = self._data[begin + 2 : i].lower().decode(errors="replace")
        i = self._skip_spaces(i)
        if self._at(i) != _GT:
            raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
        opened = self._nested[-1]
        if end_tag and end_tag != opened.tag:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {begin}, "
                f'expected "</{opened.tag}>", found "</{end_tag}>"'
            )
        if self._utf16 > opened.offset:
            self._add_entity(opened, self._utf16 - opened.offset)
        self._nested.pop()
        self._i = i

    def _add_entity(self, opened: _Open, length: int) -> None:
        offset, tag, argument = opened.offset, opened.tag, opened.argument
        last = self._entities[-1] if self._entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (offset, length)
        if tag in _SIMPLE:
            self._entities.append({"type": _SIMPLE[tag], "offset": offset, "length": length})
        elif tag == "tg-emoji":
            if not argument.isdigit() or not 0 < int(argument) <= _MAX_INT64:
                raise HtmlParseError("Invalid custom emoji identifier specified")
            self._entities.append(
                {
                    "type": "custom_emoji",
                    "offset": offset,
                    "length": length,
                    "custom_emoji_id": argument,
                }
            )
        elif tag == "tg-time":
            self._entities.append(_date_time(argument, offset, length))
        elif tag == "a":
            self._add_link(opened, length)
        elif tag == "pre":
            if last is not None and last["type"] == "code" and same_span and "language" in last:
                last["type"] = "pre"
            else:
                self._entities.append({"type": "pre", "offset": offset, "length": length})
        elif tag == "code":
            if last is not None and last["type"] == "pre" and same_span and argument:
                last["language"] = argument
            else:
                code: Entity = {"type": "code", "offset": offset, "length": length}
                if argument:
                    code["language"] = argument
                self._entities.append(code)
        else:
            kind = "expandable_blockquote" if argument else "blockquote"
            self._entities.append({"type": kind, "offset": offset, "length": length})

    def _add_link(self, opened: _Open, length: int) -> None:
        url = opened.argument or self._result[opened.result_pos :].decode()
        entity: Entity = {"offset": opened.offset, "length": length}
        if match := _USER_LINK.fullmatch(url):
            user = self._lookup_user(int(match.group(1)))
            if user is not None:
                self._entities.append(entity | {"type": "text_mention", "user": user})
        elif (checked := check_url(url)) is not None:
            self._entities.append(entity | {"type": "text_link", "url": checked})


def _date_time(argument: str, offset: int, length: int) -> Entity:
    # TDLib's wording for these two refusals is not known: these are explicit stand-ins.
    unix, _, time_format = argument.partition("|")
    if not unix.isdigit() or int(unix) > _MAX_INT64:
        raise HtmlParseError('Tag "tg-time" must have a valid attribute "unix"')
    if not _DATE_TIME_FORMAT.fullmatch(time_format):
        raise HtmlParseError(f'Invalid date and time format "{time_format}"')
    entity: Entity = {"type": "date_time", "offset": offset, "length": length}
    entity["unix_time"] = int(unix)
    if time_format:
        entity["date_time_format"] = time_format
    return entity


def _argument(tag: str, name: str, value: str, current: str) -> str:
    if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
        return value
    if tag == "tg-time" and name in ("unix", "format"):
        # Both attributes in the one argument a tag has: "unix|format".
        unix, _, time_format = current.partition("|")
        return f"{value}|{time_format}" if name == "unix" else f"{unix}|{value}"
    if (tag, name) == ("code", "class") and value.startswith("language-"):
        return value.removeprefix("language-")
    if (tag, name) == ("span", "class") and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if (tag, name) == ("blockquote", "expandable"):
        return "1"
    return current


def _nobody(_user_id: int) -> None:
    return None


def parse_html(text: str, lookup_user: UserLookup = _nobody) -> tuple[str, list[Entity]]:
    """Split a parse_mode=HTML text into Telegram's plain text and entities (UTF-16 offsets).

    Like Telegram, only '<' is special: an '&' that starts no known reference (``AT&T``,
    ``a & b``, ``&nbsp;``) stays a literal '&', and a reference's ';' is optional.
    A tg://user link becomes a text_mention only for a user ``lookup_user`` knows;
    Telegram cannot mention a user the bot has never seen either.
    """
    return _Parser(text, lookup_user).parse()
