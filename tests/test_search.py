"""Typed text filters a picker: exact words first, then prefixes, never letters inside words."""

from __future__ import annotations

import pytest

from bot.catalog.countries import COUNTRY_ALIASES
from bot.catalog.search import APP_ALIASES, Searchable, app_aliases, normalize, search


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Telegram", "telegram"),
        ("  Google/Gmail ", "google gmail"),
        ("Côte d’Ivoire", "cote d ivoire"),
        ("Côte d'Ivoire", "cote d ivoire"),
        ("AT&T", "at t"),
        ("Other <any service>", "other any service"),
        ("Congo (Dem. Republic)", "congo dem republic"),
        ("Guinea-Bissau", "guinea bissau"),
        ("Straße", "strasse"),
        ("ＵＳＡ", "usa"),
        ("Türkiye", "turkiye"),
        ("Việt Nam", "viet nam"),
        ("Майкоп", "майкоп"),
        ("Ёлка", "елка"),
        ("Йемен", "йемен"),
        ("и\u0306од", "йод"),
        ("Соединенные   Штаты", "соединенные штаты"),
        ("刚果（金）", "刚果 金"),
        ("美国", "美国"),
        ("한국", "한국"),
        ("", ""),
        (" \t\n", ""),
        ("-/()", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


APPS = [
    Searchable(1, ("Pinterest",), ("pi",)),
    Searchable(2, ("Telegram",), ("tg", *app_aliases("Telegram"))),
    Searchable(3, ("Test",), ("ts",)),
    Searchable(4, ("WhatsApp",), ("wa", *app_aliases("WhatsApp"))),
    Searchable(5, ("Google/Gmail",), ("go", *app_aliases("Google/Gmail"))),
    Searchable(6, ("Twitter",), ("tw", *app_aliases("Twitter"))),
    Searchable(7, ("Steam",), ("mt", *app_aliases("Steam"))),
    Searchable(8, ("OpenAI",), ("dr", *app_aliases("OpenAI"))),
    Searchable(9, ("AT&T",), ("att",)),
    Searchable(10, ("Other <any service>",), ("ot",)),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tg", [2]),
        ("TG", [2]),
        ("телеграм", [2]),
        ("телега", [2]),
        ("电报", [2]),
        ("wa", [4]),
        ("вацап", [4]),
        ("gmail", [5]),
        ("гугл", [5]),
        ("x", [6]),
        ("chatgpt", [8]),
        ("chat", [8]),
        ("te", [2, 3]),
        ("tele", [2]),
        ("terest", []),
        ("at&t", [9]),
        ("at t", [9]),
        ("any", [10]),
        ("serv", [10]),
        ("", []),
        ("   ", []),
        ("&", []),
        ("zzz", []),
    ],
)
def test_search_apps(query: str, expected: list[int]) -> None:
    assert search(query, APPS) == expected


def _country(key: int, iso: str, *names: str) -> Searchable:
    return Searchable(key, names, (iso.lower(), *COUNTRY_ALIASES.get(iso, ())))


COUNTRIES = [
    _country(1, "RU", "Russia", "Россия"),
    _country(2, "UA", "Ukraine", "Украина"),
    _country(5, "US", "USA", "United States"),
    _country(7, "YE", "Yemen", "Йемен"),
    _country(8, "AU", "Australia", "Австралия"),
    _country(9, "CN", "China", "中国"),
    _country(10, "HK", "Hong Kong", "中国香港特别行政区"),
    _country(11, "KG", "Kyrgyzstan", "Киргизия"),
    _country(46, "CI", "Côte d'Ivoire", "Кот-д’Ивуар"),
    _country(100, "GB", "United Kingdom", "Великобритания"),
    _country(101, "AE", "United Arab Emirates", "ОАЭ"),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("us", [5]),
        ("usa", [5]),
        ("USA", [5]),
        ("united states", [5]),
        ("США", [5]),
        ("美国", [5]),
        ("америка", [5]),
        ("ameri", [5]),
        ("uk", [100, 2]),
        ("англия", [100]),
        ("king", [100]),
        ("uni king", [100]),
        ("united", [5, 100, 101]),
        ("ingdom", []),
        ("nited", []),
        ("", []),
        ("cote", [46]),
        ("Côte", [46]),
        ("cote d'ivoire", [46]),
        ("ivoire", [46]),
        ("кот", [46]),
        ("йем", [7]),
        ("Йемен", [7]),
        ("киргиз", [11]),
        ("ру", []),
        ("рф", [1]),
        ("росс", [1]),
        ("ук", [2]),
        ("u", [2, 5, 100, 101]),
        ("a", [8, 101]),
        ("中国", [9, 10]),
        ("香港", [10]),
        ("国", [9, 10]),
    ],
)
def test_search_countries(query: str, expected: list[int]) -> None:
    assert search(query, COUNTRIES) == expected


def test_exact_alias_beats_name_prefix_and_ties_keep_input_order() -> None:
    items = [
        Searchable(1, ("Usbekistan Fixture",)),
        Searchable(2, ("Us Fixture",)),
        Searchable(3, ("America",), ("us",)),
        Searchable(4, ("Used Fixture",)),
    ]
    assert search("us", items) == [3, 1, 2, 4]


def test_ranks_go_exact_then_name_prefix_then_word_prefix_then_alias_prefix() -> None:
    items = [
        Searchable(1, ("Alias Only",), ("kingsize",)),
        Searchable(2, ("United Kingdom",)),
        Searchable(3, ("Kingston",)),
        Searchable(4, ("King",)),
    ]
    assert search("king", items) == [4, 3, 2, 1]


def test_short_queries_do_not_match_inside_aliases() -> None:
    items = [Searchable(1, ("USA",), ("america",))]
    assert search("am", items) == []
    assert search("ame", items) == [1]


def test_search_consumes_any_iterable() -> None:
    assert search("tg", iter(APPS)) == [2]


@pytest.mark.parametrize(
    ("title", "alias"),
    [
        ("Telegram", "tg"),
        ("WhatsApp", "wa"),
        ("Google/Gmail", "gmail"),
        ("Facebook", "fb"),
        ("Instagram", "insta"),
        ("Twitter", "x"),
        ("Microsoft", "outlook"),
        ("Discord", "ds"),
        ("TikTok", "抖音"),
        ("VK", "вконтакте"),
        ("Viber", "вайбер"),
        ("WeChat", "微信"),
        ("Apple", "icloud"),
        ("Amazon", "амазон"),
        ("Uber", "убер"),
        ("OpenAI", "chatgpt"),
        ("Mail.ru", "мейл"),
    ],
)
def test_app_aliases_by_title(title: str, alias: str) -> None:
    assert alias in app_aliases(title)


def test_unknown_app_has_no_aliases() -> None:
    assert app_aliases("Some New App") == ()


def test_app_alias_keys_are_normalized_titles() -> None:
    assert all(normalize(key) == key for key in APP_ALIASES)


def test_exact_wins_picks_the_exact_match_alone() -> None:
    items = [Searchable(1, ("United Kingdom",), ("uk",)), Searchable(2, ("Ukraine",), ("ua",))]
    assert search("uk", items) == [1, 2]
    assert search("uk", items, exact_wins=True) == [1]
    assert search("u", items, exact_wins=True) == [1, 2]
