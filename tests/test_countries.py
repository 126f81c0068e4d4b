"""SMS-man countries get an ISO code, a flag, a localized name and readable phone numbers."""

from __future__ import annotations

import pytest

from bot.catalog.countries import (
    COUNTRY_ALIASES,
    country_name,
    flag,
    format_phone,
    iso_code,
)
from bot.catalog.search import normalize


@pytest.mark.parametrize(
    ("code", "title", "expected"),
    [
        ("us", "USA", "US"),
        ("US", "USA", "US"),
        (" gb ", "United Kingdom", "GB"),
        ("ru", "", "RU"),
        ("xk", "Kosovo", "XK"),
        # Codes that are not a real territory fall back to the title.
        ("xx", "USA", "US"),
        ("zz", "United Kingdom", "GB"),
        ("eu", "Germany", "DE"),
        ("uk", "United Kingdom", "GB"),
        ("5", "Russia", "RU"),
        ("usa", "USA", "US"),
        ("", "USA (virtual)", "US"),
        # A real code that contradicts the title means the code is not ISO.
        ("ge", "Germany", "DE"),
        ("ci", "Côte d'Ivoire", "CI"),
    ],
)
def test_iso_code_from_provider_code(code: str, title: str, expected: str) -> None:
    assert iso_code(code, title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("USA", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("England", "GB"),
        ("Great Britain", "GB"),
        ("Russia", "RU"),
        ("Russian Federation", "RU"),
        ("South Korea", "KR"),
        ("Korea", "KR"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("Czech", "CZ"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Laos", "LA"),
        ("Côte d'Ivoire", "CI"),
        ("Côte d’Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Hong Kong", "HK"),
        ("Macau", "MO"),
        ("Macao", "MO"),
        ("Taiwan", "TW"),
        ("Moldova", "MD"),
        ("Bosnia", "BA"),
        ("Bosnia and Herzegovina", "BA"),
        ("Bosnia & Herzegovina", "BA"),
        ("Congo", "CG"),
        ("DR Congo", "CD"),
        ("Congo (Dem. Republic)", "CD"),
        ("Democratic Republic of the Congo", "CD"),
        ("Myanmar", "MM"),
        ("Burma", "MM"),
        ("Turkey", "TR"),
        ("UAE", "AE"),
        ("Saint Kitts and Nevis", "KN"),
        ("Saint Vincent and the Grenadines", "VC"),
        ("Trinidad and Tobago", "TT"),
        ("Sao Tome and Principe", "ST"),
        ("The Gambia", "GM"),
        ("Guinea-Bissau", "GW"),
        ("Guinea", "GN"),
        ("Equatorial Guinea", "GQ"),
        ("kazakhstan", "KZ"),
        ("  PHILIPPINES ", "PH"),
        ("Kyrgyzstan", "KG"),
        ("Netherlands", "NL"),
    ],
)
def test_iso_code_from_title(title: str, expected: str) -> None:
    assert iso_code("", title) == expected


@pytest.mark.parametrize(
    "title",
    [
        "",
        "Atlantis",
        "Virgin Islands",
        "Europe",
        "European Union",
        "Unknown Region",
        "United",
        "Kingdom",
        "Other",
        "Any country",
    ],
)
def test_unknown_or_ambiguous_titles_have_no_iso_code(title: str) -> None:
    assert iso_code("", title) is None


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("US", "🇺🇸"),
        ("GB", "🇬🇧"),
        ("RU", "🇷🇺"),
        ("CI", "🇨🇮"),
        ("ru", "🇷🇺"),
        (None, "🌐"),
        ("", "🌐"),
        ("XX", "🌐"),
        ("ZZ", "🌐"),
        ("EU", "🌐"),
        ("USA", "🌐"),
        ("1", "🌐"),
    ],
)
def test_flag(iso: str | None, expected: str) -> None:
    assert flag(iso) == expected


@pytest.mark.parametrize(
    ("iso", "locale", "expected"),
    [
        ("US", "en", "United States"),
        ("US", "ru", "Соединенные Штаты"),
        ("US", "zh", "美国"),
        ("GB", "en", "United Kingdom"),
        ("GB", "ru", "Великобритания"),
        ("GB", "zh", "英国"),
        ("RU", "zh", "俄罗斯"),
        ("CI", "en", "Côte d’Ivoire"),
        ("CI", "ru", "Кот-д’Ивуар"),
        ("KZ", "ru", "Казахстан"),
        ("HK", "zh", "中国香港特别行政区"),
        ("us", "ru", "Соединенные Штаты"),
        ("US", "zh-Hans", "美国"),
        ("US", "pt_BR", "Estados Unidos"),
    ],
)
def test_country_name(iso: str, locale: str, expected: str) -> None:
    assert country_name(iso, "Provider title", locale) == expected


@pytest.mark.parametrize(
    ("iso", "locale"),
    [(None, "en"), (None, "ru"), ("XX", "ru"), ("ZZ", "en"), ("US", "xx"), ("US", "")],
)
def test_country_name_falls_back_to_provider_title(iso: str | None, locale: str) -> None:
    assert country_name(iso, "Provider title", locale) == "Provider title"


@pytest.mark.parametrize(
    ("number", "iso", "expected"),
    [
        # libphonenumber's international format, each country's own grouping.
        ("12025552201", None, "+1 202-555-2201"),
        ("12025552201", "US", "+1 202-555-2201"),
        ("79002415539", None, "+7 900 241-55-39"),
        ("79002415539", "RU", "+7 900 241-55-39"),
        ("77012345678", "KZ", "+7 701 234 5678"),
        ("639295835583", "PH", "+63 929 583 5583"),
        ("447700900123", "GB", "+44 7700 900123"),
        ("442079460958", "GB", "+44 20 7946 0958"),
        ("380671234567", "UA", "+380 67 123 4567"),
        ("8613812345678", "CN", "+86 138 1234 5678"),
        ("85261234567", "HK", "+852 6123 4567"),
        # The calling code in the digits wins over an iso that does not fit them.
        ("79002415539", "US", "+7 900 241-55-39"),
        ("447700900123", "XX", "+44 7700 900123"),
        # Digits without their calling code: the order's country places them.
        ("9002415539", "RU", "+7 900 241-55-39"),
        ("07911123456", "GB", "+44 7911 123456"),
        # A length no plan of the code has, or no calling code at all: only the "+".
        ("3712345678", None, "+3712345678"),
        ("331", None, "+331"),
        ("7", None, "+7"),
        ("999123456", None, "+999123456"),
        ("0123456789", None, "+0123456789"),
        # 25 digits: nobody's number.
        ("7" * 25, "RU", "+" + "7" * 25),
        # Tolerated decorations.
        ("+79002415539", None, "+7 900 241-55-39"),
        (" +7 900 241 55 39 ", None, "+7 900 241-55-39"),
    ],
)
def test_format_phone(number: str, iso: str | None, expected: str) -> None:
    assert format_phone(number, iso) == expected


@pytest.mark.parametrize(
    "number",
    ["", "+", "  ", "+7 (900) 241-55-39", "79OO2415539", "++79002415539", "٧٩٠٠٢٤١٥٥٣٩", "n/a"],
)
def test_format_phone_returns_non_digits_unchanged(number: str) -> None:
    assert format_phone(number) == number


def test_format_phone_is_deterministic() -> None:
    assert {format_phone("79002415539", "RU") for _ in range(3)} == {"+7 900 241-55-39"}


@pytest.mark.parametrize(
    ("iso", "alias"),
    [
        ("US", "usa"),
        ("US", "сша"),
        ("US", "美国"),
        ("GB", "uk"),
        ("GB", "англия"),
        ("GB", "英国"),
        ("RU", "рф"),
        ("RU", "俄罗斯"),
        ("UA", "украина"),
        ("KZ", "казахстан"),
        ("CN", "中国"),
    ],
)
def test_country_aliases(iso: str, alias: str) -> None:
    assert alias in COUNTRY_ALIASES[iso]


def test_country_aliases_are_keyed_by_iso_and_already_normalized() -> None:
    for iso, aliases in COUNTRY_ALIASES.items():
        assert flag(iso) != "🌐"
        assert all(normalize(alias) == alias for alias in aliases)
