"""Filtering a country or app picker by the few letters a person types."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

# Rank of a match: lower is better.
_EXACT = 1
_NAME_PREFIX = 2
_WORD_PREFIX = 3
_ALIAS_PREFIX = 4

# Shorter queries would pull in every alias sharing one or two letters, e.g. "am" → "america".
_MIN_ALIAS_PREFIX = 3

# Scripts written without spaces between words, where a word-start match is meaningless.
_UNSPACED_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x3134F),  # CJK Extensions B-H
)


def _is_unspaced(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSPACED_RANGES)


def _fold_char(char: str) -> str:
    category = unicodedata.category(char)
    if category[0] == "M":
        return ""
    if category[0] not in "LN":
        return " "
    if char == "ё":
        return "е"
    # Only Latin and Greek letters lose their accents: in Cyrillic "й" is a letter of its own,
    # and decomposing kana or Hangul would turn them into fragments nobody types.
    if unicodedata.name(char, "").startswith(("LATIN", "GREEK")):
        return "".join(
            c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
        )
    return char


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """Case, accent and punctuation-insensitive form of `text`, words separated by one space."""
    # NFKC first turns full-width and compatibility forms into plain letters and composes
    # "и" + combining breve back into "й"; casefold may decompose again, hence the second pass.
    composed = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join("".join(_fold_char(c) for c in composed).split())


@dataclass(frozen=True, slots=True)
class Searchable:
    """One picker entry: names are shown or known names, aliases extra words people type."""

    key: int
    names: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    # Normalized once here: a picker's keys are kept and searched many times.
    folded_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    folded_aliases: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded_names", tuple(normalize(n) for n in self.names))
        object.__setattr__(self, "folded_aliases", tuple(normalize(a) for a in self.aliases))


def _words_start(query_words: list[str], name: str) -> bool:
    name_words = name.split()
    return all(any(w.startswith(q) for w in name_words) for q in query_words)


def _rank(query: str, unspaced: bool, item: Searchable) -> int | None:
    names = item.folded_names
    aliases = item.folded_aliases
    if query in names or query in aliases:
        return _EXACT
    if any(n.startswith(query) for n in names):
        return _NAME_PREFIX
    query_words = query.split()
    if any(_words_start(query_words, n) for n in names):
        return _WORD_PREFIX
    if unspaced and any(query in n for n in names):
        return _WORD_PREFIX
    if (unspaced or len(query) >= _MIN_ALIAS_PREFIX) and any(a.startswith(query) for a in aliases):
        return _ALIAS_PREFIX
    return None


def search(query: str, items: Iterable[Searchable], *, exact_wins: bool = False) -> list[int]:
    """Keys of the items matching `query`, best match first, input order within a rank.

    With `exact_wins`, exact names and aliases are returned alone when there are any, so "uk"
    picks the United Kingdom rather than listing Ukraine too.
    """
    normalized = normalize(query)
    if not normalized:
        return []
    unspaced = any(_is_unspaced(c) for c in normalized)
    ranked: list[tuple[int, int, int]] = []
    for position, item in enumerate(items):
        rank = _rank(normalized, unspaced, item)
        if rank is not None:
            ranked.append((rank, position, item.key))
    ranked.sort()
    if exact_wins and ranked and ranked[0][0] == _EXACT:
        return [key for rank, _, key in ranked if rank == _EXACT]
    return [key for _, _, key in ranked]


_GOOGLE = ("google", "gmail", "youtube", "гугл", "гмейл", "谷歌")
_INSTAGRAM = ("ig", "insta", "инста", "инстаграм", "инстаграмм")
_TWITTER = ("x", "tw", "twitter", "твиттер", "推特")
_MICROSOFT = ("ms", "outlook", "hotmail", "skype", "майкрософт", "微软")
_VK = ("vk", "вк", "вконтакте", "vkontakte")
_APPLE = ("icloud", "apple id", "эпл", "苹果")
_OPENAI = ("chatgpt", "gpt", "openai", "чатгпт")

APP_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # Keyed by `normalize(title)` of SMS-man's title, so "Google/Gmail" is "google gmail".
        "telegram": ("tg", "телеграм", "телеграмм", "телега", "电报"),
        "whatsapp": ("wa", "ватсап", "вацап", "вотсап", "whats app"),
        "google gmail": _GOOGLE,
        "google": _GOOGLE,
        "gmail": _GOOGLE,
        "facebook": ("fb", "meta", "фейсбук", "脸书"),
        "instagram": _INSTAGRAM,
        "instagram threads": _INSTAGRAM,
        "twitter": _TWITTER,
        "twitter x": _TWITTER,
        "x": _TWITTER,
        "microsoft": _MICROSOFT,
        "discord": ("ds", "дискорд"),
        "tiktok": ("tt", "тикток", "тик ток", "抖音"),
        "vk": _VK,
        "vkontakte": _VK,
        "вконтакте": _VK,
        "viber": ("вайбер",),
        "wechat": ("微信", "вичат"),
        "apple": _APPLE,
        "yahoo": ("яху",),
        "amazon": ("амазон", "亚马逊"),
        "uber": ("убер",),
        "openai": _OPENAI,
        "openai chatgpt": _OPENAI,
        "chatgpt": _OPENAI,
        "odnoklassniki": ("ok", "одноклассники"),
        "yandex": ("яндекс",),
        "mail ru": ("mail", "мейл", "майл"),
        "avito": ("авито",),
        "ozon": ("озон",),
        "wildberries": ("wb", "вб", "вайлдберриз"),
        "netflix": ("нетфликс",),
        "steam": ("стим",),
        "tinder": ("тиндер",),
        "snapchat": ("snap", "снэпчат"),
        "linkedin": ("линкедин",),
        "paypal": ("пейпал",),
        "signal": ("сигнал",),
        "line": ("лайн",),
        "kakaotalk": ("kakao", "какао"),
        "alibaba": ("aliexpress", "алибаба", "алиэкспресс", "阿里巴巴"),
        "binance": ("бинанс",),
    }
)


def app_aliases(title: str) -> tuple[str, ...]:
    """Extra search words for an SMS-man app title, empty when the app is not a known one."""
    return APP_ALIASES.get(normalize(title), ())
