"""Country identity for SMS-man's countries: ISO code, flag, localized name, phone formatting."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

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

# ITU country codes. The North American plan's members all share "1" (their "268" or "876"
# is an area code), and Kazakhstan shares Russia's "7".
_CALLING_CODE_TABLE = """
AC 247 AD 376 AE 971 AF 93 AG 1 AI 1 AL 355 AM 374 AO 244 AR 54 AS 1 AT 43 AU 61 AW 297
AX 358 AZ 994 BA 387 BB 1 BD 880 BE 32 BF 226 BG 359 BH 973 BI 257 BJ 229 BL 590 BM 1
BN 673 BO 591 BQ 599 BR 55 BS 1 BT 975 BW 267 BY 375 BZ 501 CA 1 CC 61 CD 243 CF 236
CG 242 CH 41 CI 225 CK 682 CL 56 CM 237 CN 86 CO 57 CR 506 CU 53 CV 238 CW 599 CX 61
CY 357 CZ 420 DE 49 DG 246 DJ 253 DK 45 DM 1 DO 1 DZ 213 EA 34 EC 593 EE 372 EG 20
EH 212 ER 291 ES 34 ET 251 FI 358 FJ 679 FK 500 FM 691 FO 298 FR 33 GA 241 GB 44 GD 1
GE 995 GF 594 GG 44 GH 233 GI 350 GL 299 GM 220 GN 224 GP 590 GQ 240 GR 30 GS 500
GT 502 GU 1 GW 245 GY 592 HK 852 HN 504 HR 385 HT 509 HU 36 IC 34 ID 62 IE 353 IL 972
IM 44 IN 91 IO 246 IQ 964 IR 98 IS 354 IT 39 JE 44 JM 1 JO 962 JP 81 KE 254 KG 996
KH 855 KI 686 KM 269 KN 1 KP 850 KR 82 KW 965 KY 1 KZ 7 LA 856 LB 961 LC 1 LI 423
LK 94 LR 231 LS 266 LT 370 LU 352 LV 371 LY 218 MA 212 MC 377 MD 373 ME 382 MF 590
MG 261 MH 692 MK 389 ML 223 MM 95 MN 976 MO 853 MP 1 MQ 596 MR 222 MS 1 MT 356 MU 230
MV 960 MW 265 MX 52 MY 60 MZ 258 NA 264 NC 687 NE 227 NF 672 NG 234 NI 505 NL 31 NO 47
NP 977 NR 674 NU 683 NZ 64 OM 968 PA 507 PE 51 PF 689 PG 675 PH 63 PK 92 PL 48 PM 508
PR 1 PS 970 PT 351 PW 680 PY 595 QA 974 RE 262 RO 40 RS 381 RU 7 RW 250 SA 966 SB 677
SC 248 SD 249 SE 46 SG 65 SH 290 SI 386 SJ 47 SK 421 SL 232 SM 378 SN 221 SO 252 SR 597
SS 211 ST 239 SV 503 SX 1 SY 963 SZ 268 TA 290 TC 1 TD 235 TG 228 TH 66 TJ 992 TK 690
TL 670 TM 993 TN 216 TO 676 TR 90 TT 1 TV 688 TW 886 TZ 255 UA 380 UG 256 US 1 UY 598
UZ 998 VA 39 VC 1 VE 58 VG 1 VI 1 VN 84 VU 678 WF 681 WS 685 XK 383 YE 967 YT 262
ZA 27 ZM 260 ZW 263
"""
_TABLE_WORDS = _CALLING_CODE_TABLE.split()
_CALLING_CODES: Mapping[str, str] = MappingProxyType(
    dict(zip(_TABLE_WORDS[::2], _TABLE_WORDS[1::2], strict=True))
)
_ALL_CALLING_CODES = frozenset(_CALLING_CODES.values())

# National number lengths with a customary grouping; other lengths go in threes.
_GROUPS_BY_LENGTH: Mapping[int, tuple[int, ...]] = MappingProxyType(
    {7: (3, 4), 8: (4, 4), 9: (3, 3, 3), 10: (3, 3, 4), 11: (3, 4, 4)}
)
_UK_CODE = "44"
_UK_NATIONAL_LENGTH = 10


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


def calling_code(iso: str | None) -> str | None:
    """International calling code digits of an alpha-2 code ("1", "44", "380"), or None."""
    return _CALLING_CODES.get(iso.upper()) if iso else None


def _split_code(digits: str, iso: str | None) -> str | None:
    expected = calling_code(iso)
    if expected is not None and digits.startswith(expected):
        return expected
    # ITU codes are prefix-free; the longest match is the only one, kept longest defensively.
    return max((c for c in _ALL_CALLING_CODES if digits.startswith(c)), key=len, default=None)


def _group_sizes(code: str, national: str) -> tuple[int, ...]:
    length = len(national)
    if code == _UK_CODE and length == _UK_NATIONAL_LENGTH:
        # Britain's own way: "20 7946 0958" in London and other 02x areas, "7700 900123" else.
        return (2, 4, 4) if national.startswith("2") else (4, 6)
    if length in _GROUPS_BY_LENGTH:
        return _GROUPS_BY_LENGTH[length]
    sizes = [3] * (length // 3)
    remainder = length % 3
    # A lone trailing digit reads like a typo, so it joins the group before it.
    if remainder == 1 and sizes:
        sizes[-1] += 1
    elif remainder:
        sizes.append(remainder)
    return tuple(sizes)


def format_phone(number: str, iso: str | None = None) -> str:
    """Readable international form of an SMS-man number: "79002415539" → "+7 900 241 5539".

    Anything but digits (after an optional "+" and spaces) is returned unchanged, and digits
    with no known calling code only get the "+".
    """
    digits = "".join(number.split()).removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        return number
    code = _split_code(digits, iso)
    if code is None:
        return f"+{digits}"
    national = digits[len(code) :]
    groups = [f"+{code}"]
    start = 0
    for size in _group_sizes(code, national):
        groups.append(national[start : start + size])
        start += size
    return " ".join(groups)
