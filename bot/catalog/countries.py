"""Country identity for SMS-man's countries: ISO code, flag, localized name, phone formatting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import phonenumbers
from babel import Locale, UnknownLocaleError

from bot.catalog.search import normalize

UNKNOWN_FLAG = "🌐"

# Babel lists these among territories, but they are groupings or test codes, not places.
_PSEUDO_TERRITORIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})

# Babel's bare "zh" happens to be Simplified today; naming the script keeps it so.
_LOCALE_TAGS = MappingProxyType({"zh": "zh_Hans"})

# Words that only vary between spellings of one name ("Trinidad & Tobago", "The Gambia",
# "USA (virtual)"), dropped before titles are compared.
_FILLER_WORDS = frozenset({"and", "the", "of", "virtual"})
_WORD_SPELLINGS = MappingProxyType({"saint": "st"})

# Spellings of SMS-man-style titles that differ from Babel's English names. Ambiguous ones
# such as "Virgin Islands" (British or U.S.) are left out: no flag beats a wrong one.
_TITLE_VARIANTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "AE": ("UAE", "Emirates"),
        "BA": ("Bosnia",),
        "BN": ("Brunei Darussalam",),
        "CD": (
            "DR Congo",
            "DRC",
            "Congo DR",
            "Democratic Republic of the Congo",
            "Congo, Democratic Republic",
            "Congo (Dem. Republic)",
            "Congo (Dem. Rep.)",
        ),
        # ISO 3166's short name "Congo" is the Republic of the Congo, Brazzaville.
        "CG": ("Congo", "Republic of the Congo", "Congo (Republic)"),
        "CF": ("CAR",),
        "CI": ("Ivory Coast", "Cote dIvoire"),
        "CV": ("Cabo Verde",),
        "CZ": ("Czech", "Czech Republic"),
        "GB": ("UK", "Great Britain", "Britain", "England"),
        "HK": ("Hong Kong", "Hongkong", "Hong Kong SAR"),
        "KG": ("Kyrgyz Republic",),
        "KR": ("Korea", "Korea (South)", "Republic of Korea", "Korea, Republic of"),
        "LA": ("Lao", "Lao PDR", "Lao People's Democratic Republic"),
        "MD": ("Republic of Moldova", "Moldova, Republic of"),
        "MK": ("Macedonia",),
        "MM": ("Myanmar", "Burma"),
        "MO": ("Macau", "Macao", "Macau SAR", "Macao SAR"),
        "NL": ("Holland",),
        # The misspelling is the one SMS-activate-style country lists carry.
        "PG": ("Papua new gvineya",),
        "PS": ("Palestine",),
        "RU": ("Russian Federation",),
        "SK": ("Slovak Republic",),
        "SV": ("Salvador",),
        "SY": ("Syrian Arab Republic",),
        "SZ": ("Swaziland",),
        "TL": ("East Timor",),
        "TR": ("Turkey",),
        "US": ("USA", "US", "United States of America", "America"),
        "VA": ("Vatican",),
        "VN": ("Viet Nam",),
    }
)

COUNTRY_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # Extra words people type for a country, beyond its names; callers add the ISO code.
        "AE": ("uae", "emirates", "оаэ", "эмираты", "阿联酋"),
        "BR": ("бразилия", "巴西"),
        "BY": ("беларусь", "белоруссия", "白俄罗斯"),
        "CA": ("канада", "加拿大"),
        "CN": ("china", "prc", "китай", "кнр", "中国"),
        "DE": ("germany", "deutschland", "германия", "德国"),
        "FR": ("франция", "法国"),
        "GB": (
            "uk",
            "britain",
            "great britain",
            "england",
            "англия",
            "британия",
            "великобритания",
            "英国",
        ),
        "GE": ("грузия", "格鲁吉亚"),
        "HK": ("hong kong", "hongkong", "гонконг", "香港"),
        "ID": ("indonesia", "индонезия", "印尼", "印度尼西亚"),
        "IL": ("израиль", "以色列"),
        "IN": ("индия", "印度"),
        "KG": ("киргизия", "кыргызстан", "吉尔吉斯斯坦"),
        "KR": ("korea", "корея", "южная корея", "韩国"),
        "KZ": ("казахстан", "哈萨克斯坦"),
        "MM": ("burma", "мьянма", "бирма", "缅甸"),
        "MY": ("малайзия", "马来西亚"),
        "NL": ("holland", "нидерланды", "голландия", "荷兰"),
        "PH": ("philippines", "филиппины", "菲律宾"),
        "PL": ("польша", "波兰"),
        "RU": ("рф", "россия", "俄罗斯"),
        "TH": ("таиланд", "тайланд", "泰国"),
        "TR": ("turkey", "турция", "土耳其"),
        "UA": ("украина", "乌克兰"),
        "US": ("usa", "united states", "america", "сша", "америка", "штаты", "美国"),
        "UZ": ("узбекистан", "乌兹别克斯坦"),
        "VN": ("вьетнам", "越南"),
    }
)


@lru_cache(maxsize=32)
def _babel_locale(tag: str) -> Locale | None:
    tag = tag.replace("-", "_")
    try:
        return Locale.parse(_LOCALE_TAGS.get(tag.lower(), tag))
    except (ValueError, UnknownLocaleError):
        return None


@lru_cache(maxsize=1)
def _territories() -> frozenset[str]:
    return (
        frozenset(
            code
            for code in Locale("en").territories
            if isinstance(code, str) and len(code) == 2 and code.isalpha()
        )
        - _PSEUDO_TERRITORIES
    )


def _title_key(title: str) -> str:
    words = (_WORD_SPELLINGS.get(w, w) for w in normalize(title).split())
    return " ".join(w for w in words if w not in _FILLER_WORDS)


@lru_cache(maxsize=1)
def _title_index() -> Mapping[str, str]:
    index: dict[str, str] = {}
    for code, name in Locale("en").territories.items():
        if code in _territories() and isinstance(name, str):
            index[_title_key(name)] = code
    for code, titles in _TITLE_VARIANTS.items():
        index.update((_title_key(title), code) for title in titles)
    return MappingProxyType(index)


def iso_code(provider_code: str, title: str) -> str | None:
    """Upper-case ISO 3166-1 alpha-2 code of an SMS-man country, None when unsure.

    The provider's code is used when it is a real territory's alpha-2 code, unless the title
    names another country: then the code is not ISO after all ("ge" for Germany), and the
    title, compared against known spellings only, is the safer guess.
    """
    from_title = _title_index().get(_title_key(title))
    code = provider_code.strip().upper()
    if code in _territories() and from_title in (None, code):
        return code
    return from_title


def flag(iso: str | None) -> str:
    """Regional-indicator flag emoji of an alpha-2 code, a globe when unknown."""
    if iso is None or iso.upper() not in _territories():
        return UNKNOWN_FLAG
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in iso.upper())


def country_name(iso: str | None, provider_title: str, locale: str) -> str:
    """The country's name in `locale` ("en", "ru", "zh"), else SMS-man's own title."""
    if iso is None or iso.upper() not in _territories():
        return provider_title
    babel_locale = _babel_locale(locale)
    if babel_locale is None:
        return provider_title
    name = babel_locale.territories.get(iso.upper())
    return name if isinstance(name, str) and name else provider_title


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _phone(number: str, iso: str | None) -> phonenumbers.PhoneNumber | None:
    """What libphonenumber makes of an SMS-man number: one valid with its own calling code or,
    failing that, as a national number of `iso`; failing both, one of a possible length."""
    digits = "".join(number.split()).removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        return None
    international = _parse(f"+{digits}", None)
    national = _parse(digits, iso) if iso else None
    chosen = next(
        (n for n in (international, national) if n is not None and phonenumbers.is_valid_number(n)),
        None,
    )
    if chosen is None and international and phonenumbers.is_possible_number(international):
        chosen = international
    return chosen


def format_phone(number: str, iso: str | None = None) -> str:
    """International form of an SMS-man number, by libphonenumber: "+7 900 241-55-39".

    SMS-man sends digits with the calling code; should a number come without it, `iso` is
    tried as its country. Digits libphonenumber cannot place get only a "+"; text that is not
    digits (after an optional "+" and spaces) is returned unchanged.
    """
    parsed = _phone(number, iso)
    if parsed is not None:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    digits = "".join(number.split()).removeprefix("+")
    return f"+{digits}" if digits.isascii() and digits.isdigit() else number


@dataclass(frozen=True, slots=True)
class PasteForms:
    """A number as sign-up forms ask for it: E.164 ("+12025552201"), and the national
    significant number with its calling code apart ("2025552201", "+1"), when known."""

    e164: str
    national: str | None = None
    calling_code: str | None = None


def paste_forms(number: str, iso: str | None = None) -> PasteForms:
    parsed = _phone(number, iso)
    if parsed is None:
        return PasteForms(format_phone(number, iso).replace(" ", ""))
    return PasteForms(
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.national_significant_number(parsed),
        f"+{parsed.country_code}",
    )
